"""gunicorn settings for the api process (docker/compose.yml and `make stack-prod`).

Every value can be overridden from the environment. The defaults are the ones the benchmark
found best on a 2-core machine behind nginx (bench/RESULTS.md, "Choosing gunicorn's workers"):
threaded workers, one process per core, four threads each. Threads matter for writes: a
request that commits waits for PostgreSQL's fsync, and a sync worker would sit idle through it.
Re-run `make bench` on other hardware before changing them.
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {value!r}") from None


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
wsgi_app = "tanka.wsgi:application"
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = _int("GUNICORN_WORKERS", multiprocessing.cpu_count())
threads = _int("GUNICORN_THREADS", 4)
# A request that takes longer than this is a bug, and the worker is replaced.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Keep it above the idle timeout of the proxy in front (docker/nginx.conf closes idle
# connections after 2 s): the proxy must be the side that closes an idle connection.
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Recycle workers now and then so a slow leak cannot grow without bound.
max_requests = _int("GUNICORN_MAX_REQUESTS", 20000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 2000)
# The app writes one access-log line per request itself (apps.core.middleware).
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Only the proxy in front may set X-Forwarded-Proto; Django reads it through
# SECURE_PROXY_SSL_HEADER (set when NUM_PROXIES > 0).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# No preload: the psycopg pool and Redis clients must be created in each worker, after the fork.
preload_app = False
