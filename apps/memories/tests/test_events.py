"""memory.created / updated / deleted on the owner's channel, on commit only (docs/api.md,
"Cache and events")."""

import pytest
from django.db import transaction

from apps.memories.services import memory_create
from apps.memories.tests.conftest import URL

pytestmark = pytest.mark.django_db(transaction=True)


def memory_events(subscriber, expected: int) -> list[dict]:
    """The first `expected` memory events (the embedding job's job.updated events aside)."""

    def only_memory(messages: list[dict]) -> list[dict]:
        return [m for m in messages if m["event"].startswith("memory.")]

    return only_memory(subscriber.wait_for(lambda ms: len(only_memory(ms)) >= expected))


def test_create_update_delete_are_published(owner, owner_client, subscribe):
    subscriber = subscribe(owner.pk)
    memory_id = owner_client.post(URL, {"content": "hello"}, format="json").json()["data"]["id"]
    owner_client.patch(f"{URL}/{memory_id}", {"tags": ["x"]}, format="json")
    owner_client.delete(f"{URL}/{memory_id}")
    received = memory_events(subscriber, 3)
    assert [e["event"] for e in received] == ["memory.created", "memory.updated", "memory.deleted"]
    assert {e["id"] for e in received} == {memory_id}
    assert all(e["at"] for e in received)


def test_a_rolled_back_write_publishes_nothing(owner, subscribe):
    subscriber = subscribe(owner.pk)
    with pytest.raises(RuntimeError), transaction.atomic():
        memory_create(owner=owner, content="never committed")
        raise RuntimeError("roll back")
    committed = memory_create(owner=owner, content="committed")
    # Pub/sub keeps order: had the rolled-back write published, its event would come first.
    received = memory_events(subscriber, 1)
    assert [(e["event"], e["id"]) for e in received] == [("memory.created", str(committed.pk))]
