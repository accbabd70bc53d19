"""Read-through caching with exact, cheap invalidation.

Every cached value lives under a namespace (for example one user's memories) with a current
generation number, and each entry records the generation it was computed in. A write bumps
the generation with one atomic INCR, so every entry of that namespace is stale at once: no
KEYS, no SCAN, no stale read for the writer. A read fetches the generation and the entry in
one MGET; stale entries are overwritten or expire with their TTL.

Redis errors never fail a request: the value is computed without the cache and the answer is
marked BYPASS.
"""

import functools
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, TypeVar

import orjson
from django.conf import settings
from django_redis import get_redis_connection
from redis.exceptions import RedisError

from apps.core import pubsub
from apps.core.redis_clients import queue_redis

logger = logging.getLogger("tanka.cache")

HIT, MISS, BYPASS = "HIT", "MISS", "BYPASS"

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class Cached(Generic[T]):
    """A value and how it was obtained (HIT, MISS or BYPASS), for the `X-Cache` header."""

    value: T
    status: str


def _client() -> Any:
    return get_redis_connection("default")


def _generation_key(namespace: str) -> str:
    return f"tanka:gen:{namespace}"


# KEYS[1] a generation; ARGV[1] the cache's database. A script's SELECT changes only the
# script's own database, so the bump can ride in a round trip made on the queue's database.
_BUMP_IN_CACHE_DB = "redis.call('SELECT', ARGV[1]) return redis.call('INCR', KEYS[1])"
_SAME_SERVER = ("host", "port", "path", "username", "password")


@functools.cache
def _database_beside_the_queue() -> int | None:
    """The cache's database number when the cache and the queue's client share one Redis
    server (as the settings make them), else None."""
    cache = _client().connection_pool.connection_kwargs
    queue = queue_redis().connection_pool.connection_kwargs
    if any(cache.get(name) != queue.get(name) for name in _SAME_SERVER):
        return None
    return int(cache.get("db", 0))


def _bump(key: str, database: int, pipeline: Any) -> None:
    pipeline.eval(_BUMP_IN_CACHE_DB, 1, key, database)


def invalidate(namespace: str) -> None:
    """Make every cached entry of `namespace` unreachable. Call it on commit of a write.

    Inside an API request the bump leaves with the request's batch of events, in the round
    trip of the job's hand-over or at the end, before the request answers, instead of
    costing a round trip of its own (apps/core/pubsub.py, `batched`)."""
    key = _generation_key(namespace)
    database = _database_beside_the_queue()
    if database is not None and pubsub.defer(functools.partial(_bump, key, database)):
        return
    try:
        _client().incr(key)
    except RedisError as exc:
        # The old entries stay reachable until their TTL once Redis is back; say so loudly.
        logger.warning("cache invalidation of %s failed: %s", namespace, exc)


def cache_key(prefix: str, namespace: str, parts: tuple[Any, ...]) -> str:
    try:
        raw = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        # Integers beyond 64 bits; the standard library writes them.
        raw = json.dumps(parts, sort_keys=True, default=str).encode()
    digest = hashlib.blake2b(raw, digest_size=16)
    return f"tanka:{prefix}:{namespace}:{digest.hexdigest()}"


def _fresh(raw: bytes | None, generation: bytes) -> bytes | None:
    """The payload of an entry stored as b"<generation>:<json>", if of this generation."""
    if raw is None:
        return None
    stored, _, payload = raw.partition(b":")
    return payload if stored == generation else None


def cached(
    prefix: str, namespace: Callable[..., str], ttl: int | None = None
) -> Callable[[Callable[P, T]], Callable[P, Cached[T]]]:
    """Cache a function's JSON-serialisable result.

    `namespace(*args, **kwargs)` names the invalidation group (usually the owner); the key also
    holds every argument, so two calls share an entry only when they would compute the same
    value. The wrapped function returns `Cached(value, status)`.
    """

    def decorate(func: Callable[P, T]) -> Callable[P, Cached[T]]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Cached[T]:
            space = namespace(*args, **kwargs)
            key = cache_key(prefix, space, (args, kwargs))
            try:
                client = _client()
                generation, raw = client.mget(_generation_key(space), key)
            except RedisError as exc:
                logger.warning("cache unavailable, reading through: %s", exc)
                return Cached(func(*args, **kwargs), BYPASS)
            generation = generation or b"0"
            payload = _fresh(raw, generation)
            if payload is not None:
                return Cached(orjson.loads(payload), HIT)
            value = func(*args, **kwargs)
            try:
                client.set(
                    key,
                    generation + b":" + orjson.dumps(value),
                    ex=ttl or settings.CACHES["default"]["TIMEOUT"],
                )
            except RedisError as exc:
                logger.warning("cache write failed: %s", exc)
                return Cached(value, BYPASS)
            except orjson.JSONEncodeError:
                # orjson would read integers beyond 64 bits back as floats: such a value is
                # not cached at all rather than cached wrong.
                return Cached(value, BYPASS)
            return Cached(value, MISS)

        return wrapper

    return decorate
