"""memory.created / updated / deleted on the owner's channel, on commit only (CONTRACT 8)."""

import json
import time

import pytest
import redis
from django.conf import settings
from django.db import transaction

from apps.core.pubsub import channel_for
from apps.memories.services import memory_create
from apps.memories.tests.conftest import URL

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def subscriber(owner):
    client = redis.Redis.from_url(settings.REDIS_QUEUE_URL)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel_for(owner.pk))
    pubsub.get_message(timeout=1)
    yield pubsub
    pubsub.close()
    client.close()


def events(pubsub, expected: int, timeout: float = 5) -> list[dict]:
    received = []
    deadline = time.monotonic() + timeout
    while len(received) < expected and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.2)
        if message and message["type"] == "message":
            received.append(json.loads(message["data"]))
    return received


def test_create_update_delete_are_published(owner_client, subscriber):
    memory_id = owner_client.post(URL, {"content": "hello"}, format="json").json()["data"]["id"]
    owner_client.patch(f"{URL}/{memory_id}", {"tags": ["x"]}, format="json")
    owner_client.delete(f"{URL}/{memory_id}")
    received = events(subscriber, 3)
    assert [e["event"] for e in received] == ["memory.created", "memory.updated", "memory.deleted"]
    assert {e["id"] for e in received} == {memory_id}
    assert all(e["at"] for e in received)


def test_a_rolled_back_write_publishes_nothing(owner, subscriber):
    with pytest.raises(RuntimeError), transaction.atomic():
        memory_create(owner=owner, content="never committed")
        raise RuntimeError("roll back")
    committed = memory_create(owner=owner, content="committed")
    # Pub/sub keeps order: had the rolled-back write published, its event would come first.
    received = events(subscriber, 1)
    assert [(e["event"], e["id"]) for e in received] == [("memory.created", str(committed.pk))]
