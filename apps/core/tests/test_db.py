"""`insert` writes the row `save()` would, on SQLite and PostgreSQL alike."""

import pytest

from apps.core.db import insert
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
