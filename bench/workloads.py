"""What the benchmark measures of Tanka itself, beside the side-by-side rows: the same
endpoints through nginx (the production shape) and on one api process directly, the
uncached list, and the job path through nginx."""

import json
import time
from collections.abc import Callable
from typing import Any

import redis
from rq import Queue

from bench.client import call, jobs_round, register, seed_memories
from bench.stats import median_of
from bench.wrk import run_wrk
from tanka.names import QUEUES

LIST_PATH = "/api/v1/memories?page=1&per_page=20"
CREATE_BODY = {"content": "A memory written under load.", "memory_type": "note", "tags": ["bench"]}

LABELS = {
    "health_live": "GET /health/live",
    "health": "GET /health",
    "memories_list_hit": "GET /api/v1/memories?page=1&per_page=20 (cache hit)",
    "memories_list_miss": "GET /api/v1/memories?page=1&per_page=20 (cache miss)",
    "memory_detail": "GET /api/v1/memories/{id}",
    "memory_create": "POST /api/v1/memories (embedding job enqueued)",
}


def wait_for_idle_workers(redis_url: str, db: int, timeout: float = 600) -> float:
    """Wait until the workers have no job left (queued or running); the seconds waited.

    Each workload is measured alone: memory creates leave embedding jobs behind, and the
    workers running them would take CPU from the next workload."""
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


def http_workloads(base: str, token: str, memory_id: str) -> dict[str, tuple[str, dict]]:
    """name -> (URL, the environment bench/wrk.lua reads) for every HTTP workload on `base`."""
    bearer = {"BENCH_TOKEN": token}
    return {
        "health_live": (f"{base}/health/live", {}),
        "health": (f"{base}/health", {}),
        "memories_list_hit": (f"{base}{LIST_PATH}", bearer),
        "memories_list_miss": (f"{base}{LIST_PATH}", bearer),
        "memory_detail": (f"{base}/api/v1/memories/{memory_id}", bearer),
        "memory_create": (
            f"{base}/api/v1/memories",
            {**bearer, "BENCH_METHOD": "POST", "BENCH_BODY": json.dumps(CREATE_BODY)},
        ),
    }


def measure(
    targets: dict[str, str],
    *,
    rounds: int,
    duration: int,
    connections: int,
    threads: int,
    memories: int,
    jobs: int,
    job_clients: int,
    only: set[str] | None,
    before_each: Callable[[], None],
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Each workload on each target (`name -> base URL`), `rounds` times, in alternation;
    the median of the rounds per workload and target."""
    setups = {}
    for target, base in targets.items():
        log(f"seeding a user and {memories} memories through {target} ({base})")
        token = register(base, f"http-{target}")
        memory_ids = seed_memories(base, token, memories)
        setups[target] = (base, token, http_workloads(base, token, memory_ids[0]))
    results: dict[str, dict[str, list[dict[str, Any]]]] = {target: {} for target in targets}
    job_rounds: list[dict[str, Any]] = []
    for round_number in range(1, rounds + 1):
        for target, (base, token, workloads) in setups.items():
            for name, (url, env) in workloads.items():
                if only is not None and name not in only:
                    continue
                if name == "memories_list_miss":
                    env = {**env, "BENCH_VARY": str(1990 + round_number)}
                before_each()
                call(base, LIST_PATH, token=token)  # the hit path's entry is warm
                result = run_wrk(url, duration=duration, connections=connections,
                                 threads=threads, env=env)  # fmt: skip
                results[target].setdefault(name, []).append(result)
                log(f"round {round_number} {target} {name}: {result['rps']:.0f} req/s, "
                    f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, "
                    f"errors {result['errors']}")  # fmt: skip
        if only is None or "jobs" in only:
            before_each()
            base = next(iter(targets.values()))
            result = jobs_round(base, jobs, job_clients)
            job_rounds.append(result)
            log(f"round {round_number} jobs: {result}")
    return {
        "http": {
            target: {name: median_of(values) for name, values in by_name.items()}
            for target, by_name in results.items()
        },
        "jobs": median_of(job_rounds) if job_rounds else None,
    }
