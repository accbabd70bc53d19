"""Fixtures shared by every app's tests."""

import json
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

QUEUES = ("high_priority", "default", "low_priority")


@pytest.fixture(autouse=True)
def _clean_redis() -> Iterator[None]:
    """Every test starts with empty queue and cache databases, and with no memory of an
    earlier test's Redis outage (apps/core/redis_clients.py)."""
    from apps.core.redis_clients import breaker

    for url in (settings.REDIS_QUEUE_URL, settings.REDIS_CACHE_URL):
        client = redis.Redis.from_url(url)
        client.flushdb()
        client.close()
    breaker.reset()
    yield


@pytest.fixture
def redis_queue() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.REDIS_QUEUE_URL)
    yield client
    client.close()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def redis_down(settings) -> None:
    """Point every Redis client at a port nobody listens on: Redis is down for this test."""
    dead = "redis://127.0.0.1:9/0"
    settings.REDIS_CACHE_URL = dead
    settings.REDIS_QUEUE_URL = dead
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": dead}}
    settings.RQ_QUEUES = {name: {**conf, "URL": dead} for name, conf in settings.RQ_QUEUES.items()}


@pytest.fixture
def redis_hung(settings) -> Iterator[Any]:
    """Point every Redis client at a listener that accepts and never answers: Redis hangs
    for this test. Yields the listener (`BlackHole`: `accepted` counts the connections)."""
    from tests.system.helpers import BlackHole

    hole = BlackHole()
    settings.REDIS_CACHE_URL = hole.url
    settings.REDIS_QUEUE_URL = hole.url
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": hole.url}}
    settings.RQ_QUEUES = {name: {**c, "URL": hole.url} for name, c in settings.RQ_QUEUES.items()}
    yield hole
    hole.close()


USER_PASSWORD = "orchid-Lantern-42"


@pytest.fixture(scope="session")
def _password_hash() -> str:
    """Argon2 is slow on purpose: hash the test password once per worker, not per user."""
    from django.contrib.auth.hashers import make_password

    return make_password(USER_PASSWORD)


def _make_user(email: str, password_hash: str, **fields):
    from apps.users.models import User

    return User.objects.create(email=email, password=password_hash, **fields)


@pytest.fixture
def user(db, _password_hash):
    """An active account whose password is USER_PASSWORD."""
    return _make_user("ann@example.com", _password_hash, display_name="Ann")


@pytest.fixture
def other_user(db, _password_hash):
    return _make_user("bob@example.com", _password_hash, display_name="Bob")


def _bearer_client(user) -> APIClient:
    from rest_framework_simplejwt.tokens import AccessToken

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


@pytest.fixture
def client_for():
    """`client_for(user)`: an API client that sends a fresh access token of `user`."""
    return _bearer_client


@pytest.fixture
def auth_client(user) -> APIClient:
    """An API client authenticated as `user` with a bearer token."""
    return _bearer_client(user)


@pytest.fixture
def staff_user(db, _password_hash):
    """A superuser: every admin page and the queues dashboard open to it."""
    return _make_user(
        "staff@example.com", _password_hash, display_name="Staff", is_staff=True, is_superuser=True
    )


@pytest.fixture
def staff_client(staff_user) -> Client:
    """A browser session (Django's test client) logged in as `staff_user`."""
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.fixture
def user_password() -> str:
    """The password of `user` and `other_user`."""
    return USER_PASSWORD


@pytest.fixture
def run_jobs() -> Callable[..., None]:
    """Run every queued job now, in this process, through the worker `rqworker` runs (burst)."""

    from apps.jobs.worker import STOP_JOB_SIGNAL, TankaWorker

    def run(queues: tuple[str, ...] = QUEUES) -> None:
        connection = redis.Redis.from_url(settings.REDIS_QUEUE_URL)
        signals = (signal.SIGINT, signal.SIGTERM, STOP_JOB_SIGNAL)
        handlers = {sig: signal.getsignal(sig) for sig in signals}
        try:
            TankaWorker(list(queues), connection=connection).work(burst=True)
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
            connection.close()

    return run


class Subscriber:
    """Listens on one user's channel; `wait_for` collects messages until a condition holds."""

    def __init__(self, user_id: Any) -> None:
        self.client = redis.Redis.from_url(settings.REDIS_QUEUE_URL)
        self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        from apps.core.pubsub import user_channel

        self.pubsub.subscribe(user_channel(user_id))
        self.pubsub.get_message(timeout=1)  # consumes the subscription confirmation
        self.messages: list[dict[str, Any]] = []

    def wait_for(
        self, condition: Callable[[list[dict[str, Any]]], bool], timeout: float = 10
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while not condition(self.messages) and time.monotonic() < deadline:
            message = self.pubsub.get_message(timeout=0.2)
            if message and message["type"] == "message":
                self.messages.append(json.loads(message["data"]))
        return self.messages

    def close(self) -> None:
        self.pubsub.close()
        self.client.close()


@pytest.fixture
def subscribe() -> Iterator[Callable[[Any], Subscriber]]:
    subscribers: list[Subscriber] = []

    def make(user_id: Any) -> Subscriber:
        subscriber = Subscriber(user_id)
        subscribers.append(subscriber)
        return subscriber

    yield make
    for subscriber in subscribers:
        subscriber.close()


_RUN_STARTED = time.time()


def pytest_terminal_summary(terminalreporter) -> None:
    """End the output with the reliability figures this run recorded, so CI logs hold them."""
    from tests.system.helpers import print_figures

    print_figures(terminalreporter, _RUN_STARTED)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items) -> None:
    """Keep `--dist loadgroup` grouping by `xdist_group` under pytest 9.2.

    pytest-xdist 3.8 names a test's group by appending `@group` to `item._nodeid`, which
    pytest 9.2 no longer reads (its node ids are structured), so every group was silently
    ignored: the tests of one module could run on two workers at once, and the topology
    module then started two topologies on the same Redis databases, whose workers took each
    other's jobs (pytest-dev/pytest-xdist#1386). This does what xdist means to, on the id
    pytest reads, and nothing where xdist already did it.
    """
    if not getattr(config.option, "loadgroup", False):  # set on xdist workers only
        return
    try:
        from _pytest.nodeid import NodeId
    except ImportError:  # pytest before 9.2: xdist's own renaming works
        return
    for item in items:
        names = {
            str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
            for mark in item.iter_markers("xdist_group")
        }
        suffix = "@" + "_".join(sorted(names))
        if names and not item.nodeid.endswith(suffix):
            item._id = NodeId.parse(item.nodeid + suffix)
