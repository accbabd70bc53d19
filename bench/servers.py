"""Which HTTP server the api processes run: each candidate serving the real app (production
settings, our middleware), measured with the same wrk runs directly and behind the same nginx,
two RQ workers beside it as in the topology. `python -m bench.servers --help`; the choice and
its figures are in bench/RESULTS.md ("Choosing the api server").

A candidate is a command line with `{port}` in it; the defaults are the ones tried.
"""

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from typing import Any

from bench.client import register, seed_memories
from bench.report import RESULTS_DIR
from bench.stats import median_of
from bench.workloads import http_workloads, wait_for_idle_workers
from bench.wrk import run_wrk
from devstack import DOCKER_DIR, ROOT
from devstack.net import free_port, http_status, wait_until
from devstack.nginx import nginx_binary, write_nginx_config
from devstack.postgres import create_database, database_url, drop_database
from devstack.processes import Process
from devstack.redis import flush_redis
from devstack.topology import Topology, worker_command
from tanka.names import RATE_LIMIT_SETTINGS

PY = sys.executable
SERVE = f"{PY} {DOCKER_DIR}/serve.py --host 127.0.0.1 --port {{port}}"
GUNICORN = f"{PY} -m gunicorn --bind 127.0.0.1:{{port}} --keep-alive 5 --workers 2"
CANDIDATES = {
    "gunicorn-gthread-2x4": f"{GUNICORN} --threads 4 --worker-class gthread tanka.wsgi:application",
    "gunicorn-sync-2": f"{GUNICORN} --worker-class sync tanka.wsgi:application",
    "granian-wsgi-2x1": f"env GRANIAN_WORKERS=2 GRANIAN_BLOCKING_THREADS=1 {SERVE}",
    "granian-wsgi-2x2": f"env GRANIAN_WORKERS=2 GRANIAN_BLOCKING_THREADS=2 {SERVE}",
    "granian-wsgi-2x4": f"env GRANIAN_WORKERS=2 GRANIAN_BLOCKING_THREADS=4 {SERVE}",
    "granian-asgi-2": f"{PY} -m granian --interface asgi --port {{port}} --workers 2 "
    "--log-level warning tanka.asgi:application",
    "uwsgi-2x4": f"{os.path.dirname(PY)}/uwsgi --http11-socket 127.0.0.1:{{port}} "
    "--module tanka.wsgi:application --master --processes 2 --threads 4 --lazy-apps "
    "--disable-logging --die-on-term --need-app",
}
WORKLOADS = ("health_live", "memory_detail", "memory_create")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated candidates (default: all)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(CANDIDATES)
    pg = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0")
    database = database_url(pg, "tanka_bench_servers")
    create_database(database, recreate=True)
    flush_redis(redis_url, 12, 13)
    stack = Topology(
        run_dir=ROOT / "var" / "bench-servers", database_url=database, redis_url=redis_url,
        queue_db=12, cache_db=13, api_processes=1, workers=2,
        env={**dict.fromkeys(RATE_LIMIT_SETTINGS, "0"), "JOBS_MAX_ACTIVE_PER_USER": "0"},
    )  # fmt: skip
    stack.prepare()
    env = stack.environment()
    logs = stack.run_dir / "logs"
    workers = [Process(worker_command("--with-scheduler"), env, log_path=logs / f"w{i}.log")
               for i in range(2)]  # fmt: skip
    results: dict[str, Any] = {}
    try:
        for round_number in range(args.rounds):
            for name in names if round_number % 2 == 0 else reversed(names):
                figures = measure(name, env, logs, args, redis_url)
                results.setdefault(name, []).append(figures)
                print(name, json.dumps(figures), flush=True)
    finally:
        for worker in workers:
            worker.stop()
        drop_database(database)
        flush_redis(redis_url, 12, 13)
    merged = {
        name: {path: median_of([r[path] for r in rounds]) for path in rounds[0]}
        for name, rounds in results.items()
    }
    print("\n| server | path | " + " | ".join(f"{w} req/s" for w in WORKLOADS) + " |")
    print("|---|---|" + "---:|" * len(WORKLOADS))
    for name, by_path in merged.items():
        for path, figures in by_path.items():
            cells = " | ".join(f"{figures[w]:.0f}" for w in WORKLOADS)
            print(f"| {name} | {path} | {cells} |")
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"{stamp}-servers.json"
    out.write_text(json.dumps({"settings": vars(args), "results": results}, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


def measure(
    name: str, env: dict[str, str], logs: Any, args: argparse.Namespace, redis_url: str
) -> dict[str, dict[str, float]]:
    """One candidate: started, measured directly and behind nginx, stopped."""
    port, nginx_port = free_port(), free_port()
    server = Process(CANDIDATES[name].format(port=port).split(), env, log_path=logs / f"{name}.log")
    nginx_dir = ROOT / "var" / "bench-servers" / "nginx"
    config = write_nginx_config(
        nginx_dir,
        listen=f"127.0.0.1:{nginx_port}",
        upstreams=[f"127.0.0.1:{port}"],
        events_upstream=f"127.0.0.1:{port}",  # no stream is measured here
    )
    nginx = Process([nginx_binary(), "-p", str(nginx_dir.parent), "-c", str(config)], env,
                    log_path=logs / "nginx.log")  # fmt: skip
    try:
        for url in (f"http://127.0.0.1:{port}", f"http://127.0.0.1:{nginx_port}"):
            if not wait_until(lambda url=url: http_status(f"{url}/health/live", 1) == 200, 60):
                raise RuntimeError(f"{name} did not answer at {url}:\n{server.output[-3000:]}")
        direct = f"http://127.0.0.1:{port}"
        token = register(direct, name)
        memory = seed_memories(direct, token, 20)[0]
        figures: dict[str, dict[str, float]] = {}
        for path, base in (("direct", direct), ("nginx", f"http://127.0.0.1:{nginx_port}")):
            workloads = http_workloads(base, token, memory)
            figures[path] = {}
            for workload in WORKLOADS:
                wait_for_idle_workers(redis_url, 12)
                url, wrk_env = workloads[workload]
                result = run_wrk(url, duration=args.duration, connections=args.connections,
                                 threads=1, env=wrk_env)  # fmt: skip
                figures[path][workload] = result["rps"]
                if result["errors"]:
                    figures[path][f"{workload}_errors"] = result["errors"]
        return figures
    finally:
        nginx.stop()
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
