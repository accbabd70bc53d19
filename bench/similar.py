"""`python -m bench.similar`: what one `GET /api/v1/memories/{id}/similar` costs as a user's
memories grow.

Seeds one user's memories, with ready embeddings, straight into the database through the ORM
(bulk inserts of random unit vectors: minutes of embedding jobs skipped), then measures the
endpoint at each size: one client's latency (sequential requests on one connection), then
requests/s under concurrent load (wrk when installed, else client threads). The server is the
production topology of devstack/topology.py with one api process and no worker, rate limits
off, on the given database; or `--base-url`, a server already running on that database.
"""

import argparse
import http.client
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.config import CACHE_DB, PG_SERVER, QUEUE_DB, REDIS, UNLIMITED, log
from bench.stats import percentile
from bench.wrk import run_wrk
from devstack import ROOT
from devstack.net import free_port
from devstack.postgres import create_database, database_url, drop_database
from devstack.topology import Topology

DEFAULT_SIZES = "10000,100000"
DEFAULT_DATABASE = "tanka_bench_similar"
EMAIL = "bench-similar@example.com"
PASSWORD = "Bench-Similar-Passw0rd-2026"
BATCH = 2000


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tanka.settings")
    import django

    django.setup()


def seed_to(count: int) -> tuple[Any, str]:
    """Give the bench user `count` memories with ready embeddings (adding only what is
    missing); the user and the id of its oldest memory, the one the bench asks about."""
    import numpy as np
    from django.db import connection

    from apps.memories.embeddings import get_embedder
    from apps.memories.models import EmbeddingStatus, Memory
    from apps.users.models import User

    user = User.objects.filter(email=EMAIL).first() or User.objects.create_user(EMAIL, PASSWORD)
    have = Memory.objects.filter(owner=user).count()
    rng = np.random.default_rng(have)
    dimensions = get_embedder().dimensions
    for start in range(have, count, BATCH):
        size = min(BATCH, count - start)
        vectors = rng.standard_normal((size, dimensions)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        Memory.objects.bulk_create(
            Memory(
                owner=user,
                content=f"Benchmark memory {start + index}",
                embedding=vectors[index].tobytes(),
                embedding_status=EmbeddingStatus.READY,
            )
            for index in range(size)
        )
    with connection.cursor() as cursor:
        # Fresh statistics, as autovacuum would give a table that grew this much.
        cursor.execute(f"ANALYZE {Memory._meta.db_table}")
    oldest = Memory.objects.filter(owner=user).order_by("created_at", "id").first()
    return user, str(oldest.pk)


def login(base: str) -> str:
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=30)
    body = json.dumps({"email": EMAIL, "password": PASSWORD})
    connection.request(
        "POST", "/api/v1/auth/login", body=body, headers={"Content-Type": "application/json"}
    )
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    if response.status != 200:
        raise SystemExit(f"login answered {response.status}: {payload[:300]!r}")
    return json.loads(payload)["data"]["access_token"]


class Client(threading.Thread):
    """GETs one path on one keep-alive connection, `count` times or until `deadline`."""

    def __init__(self, url: str, token: str, count: int = 0, deadline: float = 0) -> None:
        super().__init__(daemon=True)
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.count, self.deadline = count, deadline
        self.latencies: list[float] = []
        self.errors = 0

    def run(self) -> None:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        done = 0
        while (done < self.count) if self.count else (time.monotonic() < self.deadline):
            started = time.perf_counter()
            try:
                connection.request("GET", self.path, headers=self.headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                self.errors += 1
                connection.close()
                connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
                continue
            finally:
                done += 1
            self.latencies.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                self.errors += 1
        connection.close()


def figures(latencies: list[float], seconds: float, errors: int) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "rps": round(len(ordered) / seconds, 1) if seconds else 0.0,
        "p50_ms": round(percentile(ordered, 50), 2),
        "p90_ms": round(percentile(ordered, 90), 2),
        "p99_ms": round(percentile(ordered, 99), 2),
        "requests": len(ordered),
        "errors": errors,
    }


def sequential(url: str, token: str, count: int) -> dict[str, Any]:
    client = Client(url, token, count=count)
    started = time.monotonic()
    client.run()
    return figures(client.latencies, time.monotonic() - started, client.errors)


def concurrent(url: str, token: str, duration: int, connections: int) -> dict[str, Any]:
    if shutil.which("wrk"):
        result = run_wrk(url, duration=duration, connections=connections, threads=1,
                         env={"BENCH_TOKEN": token})  # fmt: skip
        return {**result, "load_generator": "wrk"}
    deadline = time.monotonic() + duration
    clients = [Client(url, token, deadline=deadline) for _ in range(connections)]
    started = time.monotonic()
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    latencies = [value for client in clients for value in client.latencies]
    errors = sum(client.errors for client in clients)
    return {**figures(latencies, time.monotonic() - started, errors), "load_generator": "threads"}


def table(rows: list[dict[str, Any]]) -> list[str]:
    """The figures of each size, as a markdown table (also in bench/RESULTS.md)."""
    lines = [
        "| memories | one client p50 ms | p99 ms | loaded req/s | loaded p50 ms | loaded p99 ms "
        "| errors |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        one, loaded = row["sequential"], row["concurrent"]
        lines.append(
            f"| {row['memories']:,} | {one['p50_ms']:.1f} | {one['p99_ms']:.1f} "
            f"| {loaded['rps']:.1f} | {loaded['p50_ms']:.1f} | {loaded['p99_ms']:.1f} "
            f"| {one['errors'] + loaded['errors']} |"
        )
    return lines


def markdown(results: dict[str, Any]) -> str:
    settings = results["settings"]
    head = (
        f"`{results['command']}` on {settings['database']}, "
        f"SIMILAR_MAX_CANDIDATES={settings['max_candidates'] or 'default'}: one client "
        f"({settings['requests']} sequential requests), then {settings['connections']} "
        f"connections for {settings['duration']} s."
    )
    return "\n".join([head, "", *table(results["sizes"])])


def measure_sizes(
    base: str, sizes: list[int], *, requests: int, duration: int, connections: int
) -> list[dict[str, Any]]:
    """Seed up to each size in turn (this process's Django on the server's database) and
    measure the endpoint at each."""
    rows = []
    for size in sizes:
        started = time.monotonic()
        _, memory_id = seed_to(size)
        log(f"{size:,} memories seeded in {time.monotonic() - started:.0f} s")
        token = login(base)
        url = f"{base}/api/v1/memories/{memory_id}/similar?limit=5"
        sequential(url, token, 3)  # warm the api process's connections and imports
        one = sequential(url, token, requests)
        loaded = concurrent(url, token, duration, connections)
        log(f"{size:,} memories: one client p50 {one['p50_ms']} ms, "
            f"{loaded['rps']} req/s with {connections} connections")  # fmt: skip
        rows.append({"memories": size, "sequential": one, "concurrent": loaded})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        help=f"database to seed and serve (default: a fresh {DEFAULT_DATABASE} database on "
        "BENCH_PG's server, dropped afterwards)",
    )
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="memories per measurement")
    parser.add_argument("--requests", type=int, default=30, help="sequential requests per size")
    parser.add_argument("--duration", type=int, default=10, help="seconds of concurrent load")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--max-candidates", type=int, help="SIMILAR_MAX_CANDIDATES for the api")
    parser.add_argument("--base-url", help="measure this server (on --database-url) instead")
    parser.add_argument("--redis-url", default=REDIS, help="Redis of the started api")
    parser.add_argument("--redis-dbs", default=f"{QUEUE_DB},{CACHE_DB}", help="queue,cache")
    parser.add_argument("--output", help="also write the results as JSON to this file")
    args = parser.parse_args(argv)
    sizes = sorted(int(size) for size in args.sizes.split(","))

    created = None
    database = args.database_url
    if database is None:
        database = created = database_url(PG_SERVER, DEFAULT_DATABASE)
        create_database(created, recreate=True)
    setup_django(database)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    topology = None
    try:
        if args.base_url:
            base = args.base_url.rstrip("/")
        else:
            queue_db, cache_db = (int(db) for db in args.redis_dbs.split(","))
            env = dict(UNLIMITED)
            if args.max_candidates:
                env["SIMILAR_MAX_CANDIDATES"] = str(args.max_candidates)
            topology = Topology(
                run_dir=ROOT / "var" / "bench-similar",
                database_url=database,
                redis_url=args.redis_url,
                queue_db=queue_db,
                cache_db=cache_db,
                api_processes=1,
                workers=0,
                nginx_port=free_port(),
                env=env,
            )
            log("starting nginx and one api process")
            topology.prepare()
            topology.start()
            base = topology.base_url
        rows = measure_sizes(
            base, sizes, requests=args.requests, duration=args.duration,
            connections=args.connections,
        )  # fmt: skip
    finally:
        if topology is not None:
            topology.stop()
        if created is not None:
            from django.db import connections

            connections.close_all()
            drop_database(created)

    results = {
        "command": "python -m bench.similar " + " ".join(argv or sys.argv[1:]),
        "settings": {
            "database": urlsplit(database).scheme,
            "max_candidates": args.max_candidates,
            "requests": args.requests,
            "duration": args.duration,
            "connections": args.connections,
        },
        "load_average_1_5_15_at_end": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        "sizes": rows,
    }
    print(json.dumps(results, indent=2))
    print(markdown(results))
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    return 0 if all(r["sequential"]["errors"] + r["concurrent"]["errors"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
