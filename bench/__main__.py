"""`make bench`: Tanka's production topology side by side with the seed's own design.

Starts the topology of devstack/topology.py on this machine's PostgreSQL and Redis (a
database and Redis databases of its own, every rate limit and the per-user job cap off), then:
1. the side-by-side rows: `shared/bench/compare.sh` measures the peer (FastAPI + Celery) and
   Tanka's one api process directly, in alternation, and each row's ratio Tanka/peer is
   printed; without the shared folder beside the project it says so and goes on alone;
2. Tanka's own rows: the same endpoints through nginx and directly, the uncached list, and
   the job path through nginx.
Writes bench/results/<stamp>.json, a chart beside it, and the generated part of
bench/RESULTS.md. BENCH_QUICK=1 makes a short smoke run whose figures are not for publishing.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
from datetime import UTC, datetime
from typing import Any

from bench import similar, streams
from bench.config import CACHE_DB, PG_SERVER, QUEUE_DB, REDIS, UNLIMITED, log
from bench.machine import machine_facts
from bench.peer import Peer, comparison
from bench.report import RESULTS_DIR, chart, comparison_table, results_markdown, update_results_md
from bench.workloads import measure, wait_for_idle_workers
from devstack import ROOT
from devstack.net import free_port
from devstack.postgres import create_database, database_url, drop_database
from devstack.redis import flush_redis
from devstack.topology import Topology

# Tanka's rows measured again beside the idle streams.
STREAM_ROWS = ("health_live", "memories_list_hit", "memory_detail", "memory_create")
STREAM_CYCLES = 3


def parse(argv: list[str] | None) -> argparse.Namespace:
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0", "false")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", help="measure this running server; start nothing")
    parser.add_argument("--rounds", type=int, default=1 if quick else 3)
    parser.add_argument("--duration", type=int, default=3 if quick else 10, help="seconds")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--jobs", type=int, default=200 if quick else 500)
    parser.add_argument("--job-clients", type=int, default=16)
    parser.add_argument("--memories", type=int, default=200)
    parser.add_argument("--own-rounds", type=int, default=1, help="rounds of Tanka's own rows")
    parser.add_argument(
        "--api",
        type=int,
        default=1,
        help="api processes behind nginx; they share the cores (one server process per core "
        "in all), so one measured directly is the whole api",
    )
    parser.add_argument("--workers", type=int, default=2, help="RQ workers")
    parser.add_argument("--no-peer", action="store_true", help="skip the side-by-side rows")
    parser.add_argument(
        "--streams",
        type=int,
        default=200 if quick else 1000,
        help="idle event streams held open while Tanka's rows are measured again (0: skip)",
    )
    parser.add_argument(
        "--similar-sizes",
        default="2000" if quick else "10000,100000",
        help="memories of one user for the `similar` rows (empty: skip)",
    )
    parser.add_argument("--only", help="comma-separated own workloads to run (and skip the rest)")
    parser.add_argument("--no-write", action="store_true", help="print, write no files")
    args = parser.parse_args(argv)
    args.quick = quick
    return args


def extra_rows(
    topology: Topology, args: argparse.Namespace, own: dict[str, Any], before_each: Any
) -> dict[str, Any]:
    """The rows that need this process to speak Django to the topology's database: the API
    beside idle event streams, and `similar` as one user's memories grow."""
    sizes = [int(size) for size in args.similar_sizes.split(",") if size]
    if not (args.streams or sizes):
        return {}
    os.environ.update(topology.environment())
    os.environ["DJANGO_SETTINGS_MODULE"] = "tanka.settings"
    import django

    django.setup()
    extras: dict[str, Any] = {}
    if args.streams:
        log(f"opening {args.streams} idle event streams through nginx")
        user_ids, tokens = streams.mint_tokens(args.streams)

        def rows_through_nginx() -> dict[str, Any]:
            return measure(
                {"nginx": topology.base_url}, rounds=1, duration=args.duration,
                connections=args.connections, threads=args.threads, memories=args.memories,
                jobs=0, job_clients=args.job_clients, only=set(STREAM_ROWS),
                before_each=before_each, log=log,
            )["http"]["nginx"]  # fmt: skip

        # Beside the streams and without them, in turn, `cycles` times: a row is compared with
        # itself measured around the same minutes (the first "without" is the row measured
        # before), so the machine's drift during the run counts on both sides.
        cycles = 1 if args.quick else STREAM_CYCLES
        before = own["http"].get("nginx", {})
        without: list[dict[str, Any]] = [before]
        beside: list[dict[str, Any]] = []
        for cycle in range(cycles):
            with streams.IdleStreams(topology.base_url, tokens) as idle:
                log(f"{args.streams} streams open (cycle {cycle + 1} of {cycles})")
                beside.append(rows_through_nginx())
                if cycle == 0:
                    burst = idle.burst(streams.publisher(user_ids))
                    open_seconds = idle.open_seconds
            log("the same rows with the streams closed")
            without.append(rows_through_nginx())

        def rounds(measured: list[dict[str, Any]], name: str) -> list[float]:
            return [figures[name]["rps"] for figures in measured if name in figures]

        extras["streams"] = {
            "streams": args.streams,
            "open_seconds": round(open_seconds, 1),
            "burst": burst,
            "rows": {
                name: {
                    "without": statistics.median(rounds(without, name)),
                    "beside": statistics.median(rounds(beside, name)),
                    "without_rounds": rounds(without, name),
                    "beside_rounds": rounds(beside, name),
                }
                for name in STREAM_ROWS
                if rounds(without, name) and rounds(beside, name)
            },
        }
        log(f"streams: {extras['streams']}")
    if sizes:
        rows = similar.measure_sizes(topology.base_url, sizes, requests=30,
                                     duration=args.duration, connections=4)  # fmt: skip
        extras["similar"] = {"rows": rows}
    return extras


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    peer = Peer.beside_the_project()
    missing = "skipped (--no-peer)" if args.no_peer else peer.missing()
    if missing:
        log(f"the side-by-side run cannot happen: {missing}; measuring Tanka alone")
    topology, database = None, None
    peer_result: dict[str, Any] = {"missing": missing, "rows": []}
    try:
        if args.base_url:
            targets = {"server": args.base_url.rstrip("/")}
            direct_url = targets["server"]
        else:
            database = database_url(PG_SERVER, "tanka_bench")
            create_database(database, recreate=True)
            flush_redis(REDIS, QUEUE_DB, CACHE_DB)
            topology = Topology(
                run_dir=ROOT / "var" / "bench",
                database_url=database,
                redis_url=REDIS,
                queue_db=QUEUE_DB,
                cache_db=CACHE_DB,
                api_processes=args.api,
                workers=args.workers,
                nginx_port=free_port(),
                env=UNLIMITED,
            )
            log(f"starting the topology ({args.api} api processes, {args.workers} workers, nginx)")
            topology.prepare()
            topology.start()
            targets = {"nginx": topology.base_url, "direct": topology.api_url(0)}
            direct_url = topology.api_url(0)
        if not missing:
            out_dir = RESULTS_DIR / f"{stamp}-side-by-side"
            state_dir = ROOT / "var" / "peer"
            peer.prepare(state_dir)
            log(f"side by side with the peer: {peer.compare_sh} {direct_url}")
            peer.compare(direct_url, out_dir, state_dir=state_dir, rounds=args.rounds,
                         duration=args.duration, connections=args.connections, jobs=args.jobs,
                         job_threads=args.job_clients)  # fmt: skip
            peer_result = {"missing": None, "project_url": direct_url, "out_dir": str(out_dir),
                           "rows": comparison(out_dir)}  # fmt: skip
            print("\n".join(comparison_table(peer_result["rows"])), flush=True)

        def before_each() -> None:
            if topology is not None:
                waited = wait_for_idle_workers(REDIS, QUEUE_DB)
                if waited > 1:
                    log(f"waited {waited:.0f} s for the workers to finish earlier jobs")

        own = measure(
            targets,
            rounds=args.own_rounds,
            duration=args.duration,
            connections=args.connections,
            threads=args.threads,
            memories=args.memories,
            jobs=args.jobs,
            job_clients=args.job_clients,
            only=set(args.only.split(",")) if args.only else None,
            before_each=before_each,
            log=log,
        )
        extras = {} if topology is None else extra_rows(topology, args, own, before_each)
        facts = machine_facts(topology, postgres_url=PG_SERVER, redis_url=REDIS)
    finally:
        if topology is not None:
            topology.stop()
        if database is not None:
            drop_database(database)
            flush_redis(REDIS, QUEUE_DB, CACHE_DB)

    results = {
        "stamp": stamp,
        "command": "BENCH_QUICK=1 make bench" if args.quick else "make bench",
        "settings": {key: value for key, value in vars(args).items() if key != "only"},
        "machine": facts,
        "peer": peer_result,
        "tanka": own,
        "extras": extras,
    }
    print(json.dumps({k: v for k, v in results.items() if k != "peer"}, indent=2, default=str))
    if not args.no_write:
        RESULTS_DIR.mkdir(exist_ok=True)
        (RESULTS_DIR / f"{stamp}.json").write_text(json.dumps(results, indent=2) + "\n")
        chart(results, RESULTS_DIR / f"{stamp}.png")
        update_results_md(results_markdown(results))
        log(f"wrote bench/results/{stamp}.json, .png and bench/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
