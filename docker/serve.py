"""The api process: granian serving `tanka.wsgi:application` (docker/compose.yml, the image's
default command, and `make stack-prod`).

granian was chosen by the benchmark over gunicorn (threaded and sync workers), uWSGI and
granian's own ASGI mode, each serving the real app behind the same nginx (bench/RESULTS.md,
"Choosing the api server"): its HTTP handling is in Rust, so the per-request cost left is the
app's own. Every value can be overridden from the environment, with granian's own names; the
defaults are the benchmark's choice on a 2-core machine. Re-run `python -m bench.servers` on
other hardware before changing them.
"""

import argparse
import os

from granian import Granian
from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings
from granian.log import LogLevels


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {value!r}") from None


# Seconds an idle kept-alive connection may wait for its next request. The proxy in front
# must be the side that closes first (docker/nginx.conf closes idle connections after 2 s),
# or a request it sends on a connection this server is closing is lost.
KEEPALIVE_SECONDS = _int("GRANIAN_HTTP1_HEADER_READ_TIMEOUT", 30_000) // 1000


def server(host: str, port: int) -> Granian:
    return Granian(
        "tanka.wsgi:application",
        interface=Interfaces.WSGI,
        address=host,
        port=port,
        # One process per core; a few threads each, so a request waiting on the database
        # (a commit) does not hold its process idle.
        workers=_int("GRANIAN_WORKERS", os.cpu_count() or 1),
        blocking_threads=_int("GRANIAN_BLOCKING_THREADS", 2),
        backlog=_int("GRANIAN_BACKLOG", 1024),
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(header_read_timeout=KEEPALIVE_SECONDS * 1000),
        websockets=False,
        # The app writes one access-log line per request itself (apps/core/middleware.py).
        log_access=False,
        log_level=LogLevels(os.environ.get("LOG_LEVEL", "info").lower()),
        # A worker that dies is replaced; one that lived this many seconds is recycled, so a
        # slow leak cannot grow without bound (0 = never).
        respawn_failed_workers=True,
        workers_lifetime=_int("GRANIAN_WORKERS_LIFETIME", 0) or None,
    )


if __name__ == "__main__":
    # Its threads share a pool of database connections (tanka/settings.py, DATABASES).
    os.environ.setdefault("DATABASE_POOL_SIZE", "10")
    parser = argparse.ArgumentParser(description="Serve the Tanka API with granian.")
    parser.add_argument("--host", default=os.environ.get("GRANIAN_HOST", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=_int("GRANIAN_PORT", 8000))
    options = parser.parse_args()
    server(options.host, options.port).serve()
