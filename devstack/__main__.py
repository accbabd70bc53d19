"""`python -m devstack run` (what `make run` starts) and `python -m devstack prod` (what
`make stack-prod` starts): the whole stack in the foreground until Ctrl-C or a child dies."""

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from devstack import ROOT
from devstack.localstack import LocalStack
from devstack.net import free_port
from devstack.postgres import POSTGRES_SCHEMES, create_database
from devstack.topology import Topology, TopologyError


def run(args: argparse.Namespace) -> int:
    return LocalStack(
        addr=args.addr,
        port=args.port,
        redis_port=args.redis_port,
        local_redis=args.local_redis,
        workers=args.workers,
        migrate=not args.skip_migrate,
    ).run()


def prod(args: argparse.Namespace) -> int:
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tanka")
    if not database_url.startswith(POSTGRES_SCHEMES):
        print("stack-prod needs PostgreSQL: set DATABASE_URL=postgres://...", file=sys.stderr)
        return 2
    create_database(database_url)
    stack = Topology(
        run_dir=Path(args.run_dir),
        database_url=database_url,
        redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        queue_db=int(os.environ.get("REDIS_QUEUE_DB", "0")),
        cache_db=int(os.environ.get("REDIS_CACHE_DB", "1")),
        api_ports=[free_port() for _ in range(args.api)],
        workers=args.workers,
        nginx_port=args.port,
    )
    stopping = False

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    code = 0
    try:
        stack.prepare()
        stack.start()
        print(f"Tanka production topology on {stack.base_url} (nginx)")
        for name, child in stack.children.items():
            port = f" :{stack.api_ports[int(name[4:]) - 1]}" if name.startswith("api-") else ""
            port = f" :{stack.events_port}" if name == "events" else port
            print(f"  {name:<9} pid {child.pid}{port}  log {child.log_path}")
        print("Press Ctrl-C to stop.", flush=True)
        while not stopping:
            dead = stack.dead_children()
            if dead:
                print(f"{', '.join(dead)} exited; stopping the stack.", file=sys.stderr)
                code = 1
                break
            time.sleep(0.5)
    except TopologyError as exc:
        print(exc, file=sys.stderr)
        code = 1
    finally:
        stack.stop()
        print("Stopped.")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("run", help="Redis (when needed), RQ workers and the API")
    local.add_argument("--addr", default="127.0.0.1", help="API bind address")
    local.add_argument("--port", type=int, default=8000, help="API port")
    local.add_argument("--redis-port", type=int, default=6380, help="embedded Redis port")
    local.add_argument(
        "--local-redis",
        default="redis://127.0.0.1:6379/0",
        help="a Redis to use when it answers and REDIS_URL is unset",
    )
    local.add_argument("--workers", type=int, default=1, help="RQ workers to run")
    local.add_argument("--skip-migrate", action="store_true")
    local.set_defaults(handler=run)

    topology = commands.add_parser(
        "prod", help="nginx, api processes and workers on this machine's PostgreSQL and Redis"
    )
    topology.add_argument("--port", type=int, default=8080, help="nginx port")
    topology.add_argument("--api", type=int, default=2, help="api processes")
    topology.add_argument("--workers", type=int, default=2, help="RQ workers")
    topology.add_argument("--run-dir", default=str(ROOT / "var" / "stack-prod"))
    topology.set_defaults(handler=prod)

    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
