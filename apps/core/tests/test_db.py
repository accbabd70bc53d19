"""The precompiled statements write and read what the ORM would, on SQLite and PostgreSQL
alike; on PostgreSQL the server prepares them once per connection, and nothing else."""

import uuid
from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.db import get_by_pk, insert, update_where
from apps.jobs import engine, lifecycle
from apps.jobs.models import Job, JobStatus
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


def prepared_statements() -> Counter[str]:
    """The statements the server holds prepared for this connection, by their first words."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return Counter(" ".join(row[0].split()[:3]) for row in cursor.fetchall())


@pytest.fixture
def postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")


def test_the_statements_built_once_are_prepared_once_per_connection(user, postgresql):
    for n in range(3):
        memory = insert(Memory(owner=user, content=f"memory {n}"))
        assert get_by_pk(Memory, memory.pk, ("id", "content")).content == f"memory {n}"
        assert update_where(Memory, {"pk": memory.pk}, content="changed") == 1
    assert Memory.objects.filter(owner=user, content="changed").count() == 3

    prepared = prepared_statements()
    assert prepared['INSERT INTO "memories_memory"'] == 1
    assert prepared['UPDATE "memories_memory" SET'] == 1
    reads = [text for text in prepared if text.startswith("SELECT")]
    assert reads and all(prepared[text] == 1 for text in reads)
    # The ORM's own statements (the count above) stay unprepared.
    assert not any("COUNT" in text.upper() for text in prepared)


def test_a_jobs_row_and_its_moves_are_prepared_statements(user, postgresql, settings):
    settings.JOBS_MAX_ACTIVE_PER_USER = 0
    jobs = [engine.enqueue("test", owner=user, delay=60) for _ in range(2)]
    for job in jobs:
        assert lifecycle.cancel(job) is not None

    assert Job.objects.filter(status=JobStatus.CANCELLED).count() == 2
    prepared = prepared_statements()
    assert prepared['INSERT INTO "jobs_job"'] == 1
    assert prepared['UPDATE "jobs_job" SET'] == 1


def test_a_prepared_statement_still_shows_its_sql_in_the_query_log(user, postgresql):
    insert(Memory(owner=user, content="first"))
    with CaptureQueriesContext(connection) as captured:
        memory = insert(Memory(owner=user, content="logged"))

    [query] = captured.captured_queries
    assert query["sql"].startswith('INSERT INTO "memories_memory"')
    assert memory.pk.hex in query["sql"] and "'logged'" in query["sql"]
