"""Facts about the machine and the stack a run measured, printed beside its figures."""

import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import redis

from devstack.nginx import nginx_binary
from devstack.topology import Topology


def version_of(command: list[str], pattern: str = r"[\d.]+") -> str:
    try:
        output = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except OSError:
        return "absent"
    match = re.search(pattern, output.stdout + output.stderr)
    if match is None:
        return "unknown"
    return match.group(1) if match.groups() else match.group(0)


def machine_facts(
    topology: Topology | None, *, postgres_url: str, redis_url: str
) -> dict[str, Any]:
    import django
    import granian
    import rest_framework

    cpu_model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor() or "unknown",
    )  # fmt: skip
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    facts: dict[str, Any] = {
        "cores": os.cpu_count(),
        "cpu": cpu_model,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "django": django.__version__,
        "djangorestframework": rest_framework.__version__,
        "granian": granian.__version__,
        "nginx": version_of([nginx_binary() or "nginx", "-v"], r"nginx/([\d.]+)"),
        "wrk": version_of(["wrk", "-v"], r"wrk (\S+)"),
    }
    try:
        with psycopg.connect(postgres_url, connect_timeout=3) as connection:
            facts["postgresql"] = connection.execute("SHOW server_version").fetchone()[0]
    except psycopg.Error:
        facts["postgresql"] = "not reachable from the bench"
    try:
        facts["redis"] = redis.Redis.from_url(redis_url).info("server")["redis_version"]
    except redis.RedisError:
        facts["redis"] = "not reachable from the bench"
    if topology is not None:
        facts["topology"] = topology.describe()
    return facts
