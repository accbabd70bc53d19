"""`make bench`: how fast the production topology is, measured the same way every time.

Starts the topology of apps/core/topology.py (nginx, two gunicorn api processes, two RQ
workers) on this machine's PostgreSQL and Redis, or measures `--base-url`. It creates a user
and 200 memories, drives HTTP load with wrk (a separate C process) at a fixed concurrency for a
fixed time, then pushes test jobs through the API from 16 client threads. Every figure is the
median of the rounds; ratios are computed within this run. Writes bench/results/<stamp>.json,
bench/results/<stamp>.png and the generated part of bench/RESULTS.md.

BENCH_QUICK=1 makes a short smoke run (1 round of 3 s, 200 jobs): its figures are not for
publishing.
"""

import argparse
import http.client
import json
import math
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from apps.core.topology import (
    QUEUES,
    ROOT,
    Topology,
    create_database,
    drop_database,
    flush_redis,
    free_port,
    nginx_binary,
)

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
RESULTS_MD = BENCH_DIR / "RESULTS.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

# What the same product on FastAPI + SQLAlchemy-async + Celery measured on a 2-core machine
# (wrk, 1 thread, 32 connections, 10 s, median of 3). Our figures stand beside these.
SEED = {
    "health_live": {"rps": 3710, "p50_ms": 8, "p99_ms": 62},
    "memories_list_hit": {"rps": 922, "p50_ms": 36, "p99_ms": 98},
    "memory_detail": {"rps": 810, "p50_ms": 38, "p99_ms": 97},
    "memory_create": {"rps": 254, "p50_ms": 121, "p99_ms": 237},
    "jobs": {"throughput": 333, "p50_ms": 15, "p95_ms": 31},
}

LABELS = {
    "health_live": "GET /health/live",
    "health": "GET /health",
    "memories_list_hit": "GET /api/v1/memories?page=1&per_page=20 (cache hit)",
    "memories_list_miss": "GET /api/v1/memories?page=1&per_page=20 (cache miss)",
    "memory_detail": "GET /api/v1/memories/{id}",
    "memory_create": "POST /api/v1/memories (embedding job enqueued)",
    "health_live_direct": "GET /health/live, one api process direct (no nginx)",
}

PG_ADMIN = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0")
QUEUE_DB, CACHE_DB = 12, 13
# Rate limits stay on (their Redis counting is part of every request) but far out of reach.
HIGH_LIMITS = {
    name: "100000000"
    for name in (
        "RATE_LIMIT_PER_MINUTE",
        "RATE_LIMIT_ANON_PER_MINUTE",
        "RATE_LIMIT_LOGIN_PER_MINUTE",
        "RATE_LIMIT_REGISTER_PER_MINUTE",
        "RATE_LIMIT_JOBS_PER_MINUTE",
    )
} | {"JOBS_MAX_ACTIVE_PER_USER": "0"}  # the per-user job cap off, as the contract asks


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def call(base: str, path: str, method: str = "GET", body: Any = None, token: str = "") -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}{path}", data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raise SystemExit(f"{method} {path} answered {error.code}: {error.read()[:500]!r}") from None


def wait_for_idle_workers(redis_url: str, db: int, timeout: float = 600) -> float:
    """Wait until the workers have no job left (queued or running); the seconds waited.

    Each workload is measured alone: memory creates leave embedding jobs behind, and the
    workers running them would take CPU from the next workload."""
    import redis
    from rq import Queue

    connection = redis.Redis.from_url(redis_url, db=db)
    queues = [Queue(name, connection=connection) for name in QUEUES]
    started = time.monotonic()
    try:
        while time.monotonic() - started < timeout:
            waiting = sum(q.count for q in queues)
            running = sum(q.started_job_registry.get_job_count(cleanup=False) for q in queues)
            if not waiting and not running:
                break
            time.sleep(0.2)
    finally:
        connection.close()
    return time.monotonic() - started


def register(base: str, label: str) -> str:
    email = f"bench-{label}-{time.time_ns()}@example.com"
    body = call(base, "/api/v1/auth/register", "POST",
                {"email": email, "password": "Bench-Passw0rd-2026"})  # fmt: skip
    return body["data"]["access_token"]


def seed_memories(base: str, token: str, count: int) -> list[str]:
    ids = []
    for index in range(count):
        body = call(base, "/api/v1/memories", "POST", {
            "content": f"Benchmark memory {index}: the quick brown fox jumps over the lazy dog.",
            "memory_type": ["note", "fact", "event", "task"][index % 4],
            "tags": ["bench", f"t{index % 10}"],
            "metadata": {"source": "bench", "index": index},
        }, token)  # fmt: skip
        ids.append(body["data"]["id"])
    return ids


def run_wrk(url: str, *, duration: int, connections: int, threads: int,
            env: dict[str, str]) -> dict[str, Any]:  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s",
         "-s", str(BENCH_DIR / "wrk.lua"), url],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=duration + 60,
    )  # fmt: skip
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if result.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed on {url}:\n{result.stdout}\n{result.stderr}")
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


class JobClient(threading.Thread):
    """One of the client threads: POSTs test jobs on one keep-alive connection."""

    def __init__(self, base: str, token: str, count: int) -> None:
        super().__init__(daemon=True)
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.token, self.count = token, count
        self.job_ids: list[str] = []
        self.errors = 0

    def run(self) -> None:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        for _ in range(self.count):
            try:
                connection.request("POST", "/api/v1/jobs/test", body=b"{}", headers=headers)
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException):
                self.errors += 1
                connection.close()
                connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
                continue
            if response.status == 202:
                self.job_ids.append(json.loads(payload)["data"]["job_id"])
            else:
                self.errors += 1
        connection.close()


def parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def jobs_round(base: str, total: int, clients: int) -> dict[str, Any]:
    token = register(base, "jobs")
    threads = [JobClient(base, token, total // clients + (i < total % clients))
               for i in range(clients)]  # fmt: skip
    cpu_before, started = time.process_time(), time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    enqueue_seconds = time.monotonic() - started
    client_cpu = (time.process_time() - cpu_before) / enqueue_seconds
    accepted = sum(len(thread.job_ids) for thread in threads)
    errors = sum(thread.errors for thread in threads)

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        finished = sum(
            call(base, f"/api/v1/jobs?status={status}&per_page=1", token=token)["meta"]["total"]
            for status in ("completed", "failed")
        )
        if finished >= accepted:
            break
        time.sleep(0.5)
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        body = call(base, f"/api/v1/jobs?page={page}&per_page=100", token=token)
        rows += body["data"]
        if page >= body["meta"]["total_pages"]:
            break
        page += 1
    done = [row for row in rows if row["status"] == "completed"]
    latencies = sorted(
        (parse_time(row["completed_at"]) - parse_time(row["created_at"])) * 1000 for row in done
    )
    first = min(parse_time(row["created_at"]) for row in rows)
    last = max(parse_time(row["completed_at"]) for row in done)
    return {
        "jobs": total,
        "accepted": accepted,
        "completed": len(done),
        "errors": errors + (accepted - len(done)),
        "enqueue_rate": round(accepted / enqueue_seconds, 1),
        "throughput": round(len(done) / (last - first), 1),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "load_generator_cpu": round(client_cpu, 3),
    }


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    # Nearest rank: the smallest value with at least pct% of the values at or below it.
    index = min(len(values) - 1, max(0, math.ceil(pct / 100 * len(values)) - 1))
    return values[index]


def median_of(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [key for key, value in rounds[0].items() if isinstance(value, int | float)]
    merged = {key: round(statistics.median(r[key] for r in rounds), 3) for key in keys}
    merged["rounds"] = rounds
    return merged


def version_of(command: list[str], pattern: str = r"[\d.]+") -> str:
    try:
        output = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except OSError:
        return "absent"
    match = re.search(pattern, output.stdout + output.stderr)
    if match is None:
        return "unknown"
    return match.group(1) if match.groups() else match.group(0)


def gunicorn_settings(env: dict[str, str]) -> dict[str, Any]:
    """What docker/gunicorn.conf.py resolves to under `env` (the api processes' environment)."""
    script = (
        "import json, runpy; c = runpy.run_path('docker/gunicorn.conf.py'); "
        "print(json.dumps({k: c[k] for k in ('worker_class', 'workers', 'threads')}))"
    )
    output = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True
    )
    return json.loads(output.stdout)


def machine_facts(topology: Topology | None) -> dict[str, Any]:
    import django
    import gunicorn
    import psycopg
    import redis
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
        "gunicorn": gunicorn.__version__,
        "nginx": version_of([nginx_binary() or "nginx", "-v"], r"nginx/([\d.]+)"),
        "wrk": version_of(["wrk", "-v"], r"wrk (\S+)"),
    }
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3) as connection:
            facts["postgresql"] = connection.execute("SHOW server_version").fetchone()[0]
    except psycopg.Error:
        facts["postgresql"] = "not reachable from the bench"
    try:
        facts["redis"] = redis.Redis.from_url(REDIS).info("server")["redis_version"]
    except redis.RedisError:
        facts["redis"] = "not reachable from the bench"
    if topology is not None:
        gunicorn_conf = gunicorn_settings(topology.environment())
        facts["topology"] = {
            "api_processes": topology.api_processes,
            "gunicorn_worker_class": gunicorn_conf["worker_class"],
            "gunicorn_workers_per_process": gunicorn_conf["workers"],
            "gunicorn_threads": gunicorn_conf["threads"],
            "rq_workers": topology.workers,
            "nginx_worker_processes": "auto",
        }
    return facts


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    http = results["http"]
    names = [name for name in LABELS if name in http]
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5.5))
    positions = range(len(names))
    ours = [http[name]["rps"] for name in names]
    seed = [SEED.get(name, {}).get("rps", 0) for name in names]
    left.bar([p - 0.2 for p in positions], ours, width=0.4, label="Tanka (Django, this run)")
    left.bar([p + 0.2 for p in positions], seed, width=0.4, label="FastAPI seed (target)")
    left.set_xticks(list(positions), [name.replace("_", "\n") for name in names], fontsize=8)
    left.set_ylabel("requests/s (median of rounds)")
    left.set_title("HTTP throughput")
    left.legend()
    p99 = [http[name]["p99_ms"] for name in names]
    seed99 = [SEED.get(name, {}).get("p99_ms", 0) for name in names]
    right.bar([p - 0.2 for p in positions], p99, width=0.4, label="Tanka p99")
    right.bar([p + 0.2 for p in positions], seed99, width=0.4, label="seed p99 (target)")
    right.set_xticks(list(positions), [name.replace("_", "\n") for name in names], fontsize=8)
    right.set_ylabel("ms")
    right.set_title("p99 latency")
    right.legend()
    jobs = results.get("jobs")
    if jobs:
        fig.suptitle(
            f"Jobs: {jobs['throughput']:.0f} jobs/s end to end (target 333), "
            f"p50 {jobs['p50_ms']:.0f} ms, p95 {jobs['p95_ms']:.0f} ms  |  {results['stamp']}"
        )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def verdict(ours: dict[str, Any], target: dict[str, Any]) -> str:
    checks = []
    for key, value in target.items():
        higher_is_better = key in ("rps", "throughput")
        checks.append(ours[key] >= value if higher_is_better else ours[key] <= value)
    return "met" if all(checks) else "not met"


def results_markdown(results: dict[str, Any]) -> str:
    facts, http, settings = results["machine"], results["http"], results["settings"]
    lines = [
        BEGIN,
        f"## Last run: {results['stamp']}"
        + (" (QUICK smoke run: not figures to publish)" if settings["quick"] else ""),
        "",
        f"`{results['command']}`: wrk {settings['threads']} thread, {settings['connections']} "
        f"connections, {settings['duration']} s per run, median of {settings['rounds']} "
        f"round(s); {settings['jobs']} test jobs from {settings['job_clients']} client threads. "
        f"Raw figures: `bench/results/{results['stamp']}.json`; chart: "
        f"`bench/results/{results['stamp']}.png`.",
        "",
        "### Machine",
        "",
        "| fact | value |",
        "|---|---|",
    ]
    for key, value in facts.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        lines.append(f"| {key} | {value} |")
    lines += [
        "",
        "### HTTP",
        "",
        "| workload | req/s | p50 ms | p99 ms | errors "
        "| seed req/s | seed p50 | seed p99 | target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, label in LABELS.items():
        if name not in http:
            continue
        ours, seed = http[name], SEED.get(name)
        seed_cells = (
            f"{seed['rps']} | {seed['p50_ms']} | {seed['p99_ms']} | {verdict(ours, seed)}"
            if seed
            else "| | | (no target)"
        )
        lines.append(
            f"| `{label}` | {ours['rps']:.0f} | {ours['p50_ms']:.1f} | {ours['p99_ms']:.1f} "
            f"| {ours['errors']:.0f} | {seed_cells} |"
        )
    ratios = results["ratios"]
    lines += [
        "",
        "Ratios within this run: "
        + ", ".join(f"{name.replace('_', ' ')} {value:.2f}" for name, value in ratios.items())
        + ".",
        "",
        "Load generator: wrk used at most "
        f"{max(w['load_generator_cpu'] for w in http.values()):.2f} of a core "
        f"(the machine has {facts['cores']}).",
    ]
    jobs = results.get("jobs")
    if jobs:
        seed = SEED["jobs"]
        lines += [
            "",
            "### Jobs",
            "",
            "| figure | Tanka | seed | target |",
            "|---|---:|---:|---|",
            f"| enqueue rate (jobs/s accepted by the API) | {jobs['enqueue_rate']:.0f} | | |",
            f"| end-to-end throughput (jobs/s, first enqueued to last completed) | "
            f"{jobs['throughput']:.0f} | {seed['throughput']} | "
            f"{'met' if jobs['throughput'] >= seed['throughput'] else 'not met'} |",
            f"| enqueue -> completed p50 ms | {jobs['p50_ms']:.1f} | {seed['p50_ms']} | "
            f"{'met' if jobs['p50_ms'] <= seed['p50_ms'] else 'not met'} |",
            f"| enqueue -> completed p95 ms | {jobs['p95_ms']:.1f} | {seed['p95_ms']} | "
            f"{'met' if jobs['p95_ms'] <= seed['p95_ms'] else 'not met'} |",
            f"| errors | {jobs['errors']:.0f} | | |",
            "",
            f"The job client (Python, {settings['job_clients']} threads) used "
            f"{jobs['load_generator_cpu']:.2f} of a core while enqueueing.",
        ]
    lines.append(END)
    return "\n".join(lines)


def update_results_md(block: str) -> None:
    empty = f"# Benchmark results\n\n{BEGIN}\n{END}\n"
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else empty
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS_MD.write_text(text)


def main(argv: list[str] | None = None) -> int:
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0", "false")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", help="measure this server instead of starting one")
    parser.add_argument("--rounds", type=int, default=1 if quick else 3)
    parser.add_argument("--duration", type=int, default=3 if quick else 10, help="seconds")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--jobs", type=int, default=200 if quick else 1000)
    parser.add_argument("--job-clients", type=int, default=16)
    parser.add_argument("--memories", type=int, default=200)
    parser.add_argument("--only", help="comma-separated workloads to run (and skip the rest)")
    parser.add_argument("--no-write", action="store_true", help="print, write no files")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2

    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    load_before = os.getloadavg()
    topology, database = None, None
    try:
        if args.base_url:
            base = args.base_url.rstrip("/")
        else:
            database = "tanka_bench"
            create_database(PG_ADMIN, database, recreate=True)
            flush_redis(REDIS, QUEUE_DB, CACHE_DB)
            topology = Topology(
                run_dir=ROOT / "var" / "bench",
                database_url=PG_ADMIN.rsplit("/", 1)[0] + f"/{database}",
                redis_url=REDIS,
                queue_db=QUEUE_DB,
                cache_db=CACHE_DB,
                nginx_port=free_port(),
                env=HIGH_LIMITS,
            )
            log("starting the topology (nginx, 2 api processes, 2 workers)")
            topology.prepare()
            topology.start()
            base = topology.base_url
        log(f"seeding a user and {args.memories} memories through {base}")
        token = register(base, "http")
        memory_ids = seed_memories(base, token, args.memories)

        list_path = "/api/v1/memories?page=1&per_page=20"
        workloads: dict[str, tuple[str, dict[str, str]]] = {
            "health_live": (f"{base}/health/live", {}),
            "health": (f"{base}/health", {}),
            "memories_list_hit": (f"{base}{list_path}", {"BENCH_TOKEN": token}),
            "memories_list_miss": (f"{base}{list_path}", {"BENCH_TOKEN": token}),
            "memory_detail": (f"{base}/api/v1/memories/{memory_ids[0]}", {"BENCH_TOKEN": token}),
            "memory_create": (
                f"{base}/api/v1/memories",
                {
                    "BENCH_TOKEN": token,
                    "BENCH_METHOD": "POST",
                    "BENCH_BODY": json.dumps(
                        {
                            "content": "A memory written under load.",
                            "memory_type": "note",
                            "tags": ["bench"],
                        }
                    ),
                },
            ),  # fmt: skip
        }
        if topology is not None:
            workloads["health_live_direct"] = (f"{topology.api_url(0)}/health/live", {})
        only = set(args.only.split(",")) if args.only else set(workloads) | {"jobs"}
        rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in workloads if name in only}
        job_rounds: list[dict[str, Any]] = []
        for round_number in range(1, args.rounds + 1):
            for name in rounds:
                url, env = workloads[name]
                if name == "memories_list_miss":
                    env = {**env, "BENCH_VARY": str(1990 + round_number)}
                if topology is not None:
                    waited = wait_for_idle_workers(REDIS, QUEUE_DB)
                    if waited > 1:
                        log(f"waited {waited:.0f} s for the workers to finish earlier jobs")
                call(base, list_path, token=token)  # warm the hit path's entry
                result = run_wrk(url, duration=args.duration, connections=args.connections,
                                 threads=args.threads, env=env)  # fmt: skip
                rounds[name].append(result)
                log(f"round {round_number} {name}: {result['rps']:.0f} req/s, "
                    f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, "
                    f"errors {result['errors']}")  # fmt: skip
            if "jobs" in only:
                result = jobs_round(base, args.jobs, args.job_clients)
                job_rounds.append(result)
                log(f"round {round_number} jobs: {result}")
    finally:
        if topology is not None:
            topology.stop()
        if database is not None:
            drop_database(PG_ADMIN, database)
            flush_redis(REDIS, QUEUE_DB, CACHE_DB)

    http = {name: median_of(values) for name, values in rounds.items() if values}
    ratios = {}
    if "health_live" in http:
        for name in ("memories_list_hit", "memory_detail", "memory_create"):
            if name in http:
                ratios[f"{name} / health_live req/s"] = (
                    http[name]["rps"] / http["health_live"]["rps"]
                )
    if "memories_list_hit" in http and "memories_list_miss" in http:
        ratios["cache hit / miss req/s"] = (
            http["memories_list_hit"]["rps"] / http["memories_list_miss"]["rps"]
        )
    if "health_live" in http and "health_live_direct" in http:
        ratios["through nginx (2 api) / one api direct req/s"] = (
            http["health_live"]["rps"] / http["health_live_direct"]["rps"]
        )
    results = {
        "stamp": stamp,
        "command": "BENCH_QUICK=1 make bench" if quick else "make bench",
        "settings": {
            "quick": quick,
            "rounds": args.rounds,
            "duration": args.duration,
            "connections": args.connections,
            "threads": args.threads,
            "jobs": args.jobs,
            "job_clients": args.job_clients,
            "memories": args.memories,
            "base_url": args.base_url or "the topology started by the bench",
        },
        "machine": {
            **machine_facts(topology),
            # Other work on the machine takes CPU from the run: say how busy it was.
            "load_average_1_5_15_at_start": " ".join(f"{v:.2f}" for v in load_before),
            "load_average_1_5_15_at_end": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        },
        "http": http,
        "ratios": {name: round(value, 3) for name, value in ratios.items()},
        "jobs": median_of(job_rounds) if job_rounds else None,
        "seed": SEED,
    }
    print(json.dumps({k: v for k, v in results.items() if k != "seed"}, indent=2, default=str))
    if not args.no_write:
        RESULTS_DIR.mkdir(exist_ok=True)
        (RESULTS_DIR / f"{stamp}.json").write_text(json.dumps(results, indent=2) + "\n")
        chart(results, RESULTS_DIR / f"{stamp}.png")
        update_results_md(results_markdown(results))
        log(f"wrote bench/results/{stamp}.json, .png and bench/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
