"""Dependency probes for /health. Each has its own short timeout, and all run at once in
threads under one deadline, so a hung dependency makes /health say so instead of hanging."""

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import redis
from django.conf import settings
from django.db import connections
from rq import Worker

STARTED_AT = time.monotonic()
DEADLINE_SECONDS = 1.5

# Probes of a hung dependency may outlive a request; a small shared pool caps them.
_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="health-probe")


def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
    )


def database_ok() -> bool:
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    finally:
        # The probe runs in a pool thread: give its connection back rather than keep it there.
        connection.close()


def redis_ok() -> bool:
    client = _redis(settings.REDIS_CACHE_URL)
    try:
        return bool(client.ping())
    finally:
        client.close()


def live_worker_count() -> int:
    """Workers whose last heartbeat is recent; a killed worker's entry lingers in Redis
    until its TTL runs out, so being registered is not enough."""
    client = _redis(settings.REDIS_QUEUE_URL)
    try:
        cutoff = datetime.now(UTC) - timedelta(seconds=settings.RQ_WORKER_HEARTBEAT_WINDOW)
        return sum(
            1
            for worker in Worker.all(connection=client)
            if worker.last_heartbeat and worker.last_heartbeat.replace(tzinfo=UTC) >= cutoff
        )
    finally:
        client.close()


def task_queue_ok() -> bool:
    return live_worker_count() > 0


def run_probes(probes: dict[str, Callable[[], bool]]) -> dict[str, str]:
    """Run every probe at once; anything failing or not done by the deadline is down."""
    futures = {name: _executor.submit(probe) for name, probe in probes.items()}
    deadline = time.monotonic() + DEADLINE_SECONDS
    results = {}
    for name, future in futures.items():
        try:
            ok = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except Exception:
            ok = False
        results[name] = "connected" if ok else "disconnected"
    return results


def uptime_seconds() -> int:
    return int(time.monotonic() - STARTED_AT)
