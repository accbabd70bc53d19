"""Fixtures of the jobs tests: users, an in-process RQ burst worker, and pub/sub listening."""

import json
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.conf import settings
from rq import SimpleWorker

from apps.core.pubsub import user_channel
from apps.users.models import User

QUEUES = ("high_priority", "default", "low_priority")


@pytest.fixture
def user(db) -> User:
    return User.objects.create_user("owner@example.com", "pw-0123456789")


@pytest.fixture
def other_user(db) -> User:
    return User.objects.create_user("other@example.com", "pw-0123456789")


@pytest.fixture
def owner_client(api_client, user):
    api_client.force_authenticate(user)
    return api_client


@pytest.fixture
def run_jobs() -> Callable[..., None]:
    """Run every queued job now, in this process, through a real RQ worker (burst mode)."""

    def run(queues: tuple[str, ...] = QUEUES) -> None:
        connection = redis.Redis.from_url(settings.REDIS_QUEUE_URL)
        handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            SimpleWorker(list(queues), connection=connection).work(burst=True)
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
