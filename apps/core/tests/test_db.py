"""The precompiled statements write and read what the ORM would, on SQLite and PostgreSQL
alike."""

import uuid

import pytest

from apps.core.db import get_by_pk, insert, update_where
from apps.memories.models import Memory

pytestmark = pytest.mark.django_db


def test_insert_writes_what_the_orm_reads_back(user):
    memory = insert(
        Memory(
            owner=user,
            content="straße & 日本",
            metadata={"nested": {"list": [1, 2.5, None, True]}, "big": 2**62},
            tags=["a", "b"],
        )
    )

    stored = Memory.objects.get(pk=memory.pk)
    assert (stored.owner_id, stored.content, stored.tags) == (user.pk, "straße & 日本", ["a", "b"])
    assert stored.metadata == {"nested": {"list": [1, 2.5, None, True]}, "big": 2**62}
    assert stored.created_at == memory.created_at and stored.updated_at == memory.updated_at
    assert stored.created_at is not None
    assert not memory._state.adding
    # A saved instance updates rather than inserts again.
    memory.content = "changed"
    memory.save()
    assert Memory.objects.get(pk=memory.pk).content == "changed"
    assert Memory.objects.count() == 1


def test_get_by_pk_loads_the_fields_asked_for_with_the_orm_conversions(user):
    memory = Memory.objects.create(
        owner=user, content="hello", metadata={"k": [1, 2]}, tags=["x"], embedding=b"\x00\x01"
    )
    Memory.objects.create(owner=user, content="another")

    read = get_by_pk(Memory, str(memory.pk), ("id", "content", "metadata", "embedding"))

    assert (read.pk, read.content, read.metadata) == (memory.pk, "hello", {"k": [1, 2]})
    assert bytes(read.embedding) == b"\x00\x01"
    assert read.get_deferred_fields() >= {"tags", "memory_type"}
    # A deferred field still loads on access, as with .only().
    assert read.tags == ["x"]
    assert get_by_pk(Memory, uuid.uuid4(), ("id",)) is None


def test_update_where_changes_only_the_rows_that_match_every_condition(user):
    first = Memory.objects.create(owner=user, content="same")
    second = Memory.objects.create(owner=user, content="same")
    updated_at = first.updated_at

    changed = update_where(
        Memory, {"pk": first.pk, "content": "same"}, tags=["new"], embedding=b"\x02"
    )
    missed = update_where(Memory, {"pk": second.pk, "content": "other"}, tags=["lost"])

    assert (changed, missed) == (1, 0)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.tags, bytes(first.embedding)) == (["new"], b"\x02")
    assert second.tags == []
    # Like QuerySet.update(), auto_now fields keep their value unless given.
    assert first.updated_at == updated_at
