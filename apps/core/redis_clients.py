"""Shared Redis clients for the queue database (RQ, pub/sub).

One client per URL and process: redis-py pools its connections and resets the pool after a
fork, so API processes, workers and their forked children can all share this helper. The
short timeouts make a dead or hung Redis an error within seconds, never a hung request.
"""

from functools import cache

import redis
from django.conf import settings

CONNECT_TIMEOUT = 2.0
SOCKET_TIMEOUT = 2.0


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=SOCKET_TIMEOUT,
        health_check_interval=30,
    )


def queue_redis() -> redis.Redis:
    """The client for the RQ database (`REDIS_QUEUE_URL`), read at call time so a changed
    setting (tests, a failover URL) takes effect at once."""
    return _client(settings.REDIS_QUEUE_URL)
