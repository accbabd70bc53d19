"""wrk, the load generator (a separate C process, so the load costs the server's cores
little): one run of it against one URL, its figures read through bench/wrk.lua."""

import json
import os
import resource
import subprocess
import time
from pathlib import Path
from typing import Any

WRK_LUA = Path(__file__).resolve().parent / "wrk.lua"


def run_wrk(
    url: str, *, duration: int, connections: int, threads: int, env: dict[str, str]
) -> dict[str, Any]:
    """Requests/s, latency percentiles, errors and wrk's own CPU use for one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s",
         "-s", str(WRK_LUA), url],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=duration + 60,
    )  # fmt: skip
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if result.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed on {url}:\n{result.stdout}\n{result.stderr}")
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    seconds = raw["duration_us"] / 1e6
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "rps": round(raw["requests"] / seconds, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p90_ms": round(raw["p90_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "requests": raw["requests"],
        "errors": raw["non2xx"] + raw["socket_errors"] + raw["timeouts"],
        "load_generator_cpu": round(cpu / wall, 3),
    }
