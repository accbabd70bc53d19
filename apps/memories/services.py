"""Writes of memories. Each runs in one transaction; its side effects (cache invalidation,
the event, the embedding job) happen on commit, so a rolled-back write has none."""

import functools
import logging
from typing import Any

from django.db import transaction

from apps.core.cache import invalidate
from apps.core.db import get_by_pk, insert, update_where
from apps.core.pubsub import publish
from apps.memories.embeddings import get_embedder, pack
from apps.memories.models import EMBEDDING_TASK, EmbeddingStatus, Memory, MemoryType
from apps.memories.pages import cache_namespace

logger = logging.getLogger(__name__)

EDITABLE = ("content", "memory_type", "metadata", "tags")
DEFAULTS: dict[str, Any] = {"memory_type": MemoryType.NOTE, "metadata": dict, "tags": list}


def _announce(owner_id: Any, event: str, memory_id: Any) -> None:
    invalidate(cache_namespace(owner_id))
    publish(user_id=owner_id, event=event, object_id=memory_id)


def _on_commit(memory: Memory, event: str) -> None:
    transaction.on_commit(functools.partial(_announce, memory.owner_id, event, memory.pk))


def _enqueue_embedding(memory: Memory) -> None:
    """Queue the embedding job in the memory's transaction (so a crash cannot lose it). With
    Redis down the memory is still saved: its job is `failed` with the reason, the memory's
    embedding too, and a retry of the job (API or admin) computes it once Redis is back."""
    from apps.jobs.engine import enqueue

    job = enqueue(EMBEDDING_TASK, str(memory.pk), owner=memory.owner, robust=True)
    # Runs after the hand-over (callbacks run in order), which marks this same object failed.
    transaction.on_commit(lambda: _fail_embedding_if_unqueued(job, memory.pk), robust=True)


def _fail_embedding_if_unqueued(job: Any, memory_id: Any) -> None:
    from apps.jobs.models import JobStatus

    if job.status == JobStatus.FAILED:
        logger.warning("embedding of memory %s not queued: the queue is unavailable", memory_id)
        memory_embedding_failed(memory_id=str(memory_id))


@transaction.atomic
def memory_create(
    *,
    owner: Any,
    content: str,
    memory_type: str = MemoryType.NOTE,
    metadata: dict[str, Any] | None = None,
    tags: list[str] | None = None,
) -> Memory:
    memory = insert(
        Memory(
            owner=owner,
            content=content,
            memory_type=memory_type,
            metadata=metadata or {},
            tags=tags or [],
        )
    )
    _on_commit(memory, "memory.created")
    _enqueue_embedding(memory)
    return memory


@transaction.atomic
def memory_update(*, memory: Memory, data: dict[str, Any], replace: bool = False) -> Memory:
    """PATCH (`replace=False`) changes the given fields; PUT (`replace=True`) also resets the
    optional fields it leaves out. A content change re-queues the embedding.

    Only the fields this write sets are saved: `memory` was read before this transaction,
    and saving the whole row would put back what it read of the others (an embedding the job
    stored meanwhile, another request's change)."""
    changes = dict(data)
    if replace:
        for field, default in DEFAULTS.items():
            changes.setdefault(field, default() if callable(default) else default)
    content_changed = "content" in changes and changes["content"] != memory.content
    fields = [field for field in EDITABLE if field in changes]
    for field in fields:
        setattr(memory, field, changes[field])
    if content_changed:
        memory.embedding = None
        memory.embedding_status = EmbeddingStatus.PENDING
        fields += ["embedding", "embedding_status"]
    memory.save(update_fields=[*fields, "updated_at"])
    _on_commit(memory, "memory.updated")
    if content_changed:
        _enqueue_embedding(memory)
    return memory


@transaction.atomic
def memory_delete(*, memory: Memory) -> None:
    _on_commit(memory, "memory.deleted")
    memory.delete()


def memory_embed(*, memory_id: str) -> Memory | None:
    """Compute and store a memory's embedding; None when the memory is gone meanwhile, or
    its content changed meanwhile (that change queued an embedding of its own).

    No lock and no transaction: the write is a compare-and-set on the content the embedding
    was computed from, and touches the embedding's two fields only, so a change committed
    meanwhile stays and one read and one write cost the job a single commit. Both run once
    per create, so their statements are built once (`apps/core/db.py`)."""
    memory = get_by_pk(Memory, memory_id, ("id", "owner_id", "content"))
    if memory is None:
        return None
    memory.embedding = pack(get_embedder().embed(memory.content))
    memory.embedding_status = EmbeddingStatus.READY
    stored = update_where(
        Memory,
        {"pk": memory.pk, "content": memory.content},
        embedding=memory.embedding,
        embedding_status=memory.embedding_status,
    )
    if not stored:
        return None
    _on_commit(memory, "memory.updated")
    return memory


@transaction.atomic
def memory_embedding_failed(*, memory_id: str) -> None:
    updated = Memory.objects.filter(pk=memory_id).exclude(embedding_status=EmbeddingStatus.READY)
    memory = updated.first()
    if memory is not None:
        memory.embedding_status = EmbeddingStatus.FAILED
        memory.save(update_fields=["embedding_status"])
        _on_commit(memory, "memory.updated")
