"""Shared Redis clients, and the guard between the app and a Redis that is down or hangs.

One client per URL and process for the queue database (RQ, pub/sub): redis-py pools its
connections and resets the pool after a fork, so API processes, workers and their forked
children can all share this helper. The cache (django-redis, `CACHES`) uses the same guarded
pool class.

A Redis that is stopped refuses at once, and trying it again costs nothing; one that hangs (a
stopped process, a dropped network) never answers, and every call waits out its timeout
(`REDIS_SOCKET_TIMEOUT`). A request makes several calls (throttle, token user, cache, queue,
events), so the guard keeps a hang's cost to one timeout per request, and usually none:

- per request: once a call of a request has timed out, the request's other calls fail at
  once, without touching the network;
- per process: once a call has timed out, every call fails at once for `REDIS_RETRY_AFTER`
  seconds; then one thread tries Redis again, and its outcome opens or closes the breaker.

Refusals and resets are left alone: they cost nothing, and a Redis that restarts is used again
at once. Callers see the usual `redis.ConnectionError` and handle it as they handle an outage
(a cache miss, a 503 for a job, an event not sent). `/health` probes Redis with clients of its
own, so it always reports what Redis does now.
"""

import threading
import time
from collections.abc import Callable
from contextvars import ContextVar, Token
from functools import cache
from typing import Any

import redis
from django.conf import settings
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


class _RequestState:
    """Whether a Redis call of the current request has timed out."""

    __slots__ = ("failed",)

    def __init__(self) -> None:
        self.failed = False


_request_state: ContextVar[_RequestState | None] = ContextVar("redis_request_state", default=None)


def request_started() -> Token[_RequestState | None]:
    """Give the current request its own budget (RequestContextMiddleware calls this)."""
    return _request_state.set(_RequestState())


def request_finished(token: Token[_RequestState | None]) -> None:
    _request_state.reset(token)


class _Breaker:
    """Per process: after a timeout, calls fail at once until `REDIS_RETRY_AFTER` seconds
    have passed; then each period lets one thread through to try Redis again (its connect,
    handshake and command), and that thread's outcome opens or closes the breaker."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._open_until = 0.0
        self._trying: int | None = None

    def allow(self) -> bool:
        if not self._open_until:
            return True
        now = self._clock()
        with self._lock:
            if self._trying == threading.get_ident():
                return True
            if now < self._open_until:
                return False
            # This thread tries Redis; the others wait for its outcome or the next period.
            self._open_until = now + settings.REDIS_RETRY_AFTER
            self._trying = threading.get_ident()
            return True

    def failed(self) -> None:
        with self._lock:
            self._open_until = self._clock() + settings.REDIS_RETRY_AFTER
            self._trying = None

    def succeeded(self) -> None:
        if self._open_until:
            self.reset()

    def reset(self) -> None:
        with self._lock:
            self._open_until = 0.0
            self._trying = None


breaker = _Breaker()


def _check() -> None:
    state = _request_state.get()
    if state is not None and state.failed:
        raise RedisConnectionError("Redis skipped: it already timed out during this request")
    if not breaker.allow():
        raise RedisConnectionError("Redis skipped: it timed out moments ago")


def _failed() -> None:
    state = _request_state.get()
    if state is not None:
        state.failed = True
    breaker.failed()


class GuardedConnectionMixin:
    """What the guard adds to a redis-py connection class: a check before connecting or
    sending, and the outcome of every connect and reply."""

    def connect_check_health(self, *args: Any, **kwargs: Any) -> None:
        if getattr(self, "_sock", None):
            return
        _check()
        try:
            super().connect_check_health(*args, **kwargs)  # type: ignore[misc]
        except RedisTimeoutError:
            _failed()
            raise

    def send_packed_command(self, *args: Any, **kwargs: Any) -> None:
        _check()
        try:
            super().send_packed_command(*args, **kwargs)  # type: ignore[misc]
        except RedisTimeoutError:
            _failed()
            raise

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            response = super().read_response(*args, **kwargs)  # type: ignore[misc]
        except RedisTimeoutError:
            _failed()
            raise
        except redis.ResponseError:
            breaker.succeeded()
            raise
        breaker.succeeded()
        return response


@cache
def _guarded(connection_class: type) -> type:
    name = f"Guarded{connection_class.__name__}"
    return type(name, (GuardedConnectionMixin, connection_class), {})


class GuardedConnectionPool(redis.ConnectionPool):
    """A connection pool whose connections (TCP or Unix socket, as the URL says) go through
    the guard. django-redis takes it as `CONNECTION_POOL_CLASS`."""

    def __init__(self, connection_class: type = redis.Connection, **kwargs: Any) -> None:
        super().__init__(connection_class=_guarded(connection_class), **kwargs)


@cache
def _client(url: str) -> redis.Redis:
    timeout = settings.REDIS_SOCKET_TIMEOUT
    return redis.Redis(
        connection_pool=GuardedConnectionPool.from_url(
            url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            health_check_interval=30,
        )
    )


def queue_redis() -> redis.Redis:
    """The client for the RQ database (`REDIS_QUEUE_URL`), read at call time so a changed
    setting (tests, a failover URL) takes effect at once."""
    return _client(settings.REDIS_QUEUE_URL)
