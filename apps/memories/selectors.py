"""Reads of memories, always for one owner, served through the cache."""

from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from rest_framework.exceptions import NotFound, ValidationError

from apps.core.cache import Cached, cached
from apps.core.pagination import page_meta
from apps.memories.embeddings import cosine, unpack
from apps.memories.filters import MemoryFilter
from apps.memories.models import EmbeddingStatus, Memory
from apps.memories.serializers import MemorySerializer

FILTER_PARAMS = ("memory_type", "tag", "q", "created_after", "created_before", "ordering")


def cache_namespace(owner_id: Any) -> str:
    """All cached reads of one owner's memories; `services` invalidate it on every write."""
    return f"memories:user:{owner_id}"


def _namespace(owner_id: str, *args: Any, **kwargs: Any) -> str:
    return cache_namespace(owner_id)


def memories_of(*, user: Any) -> QuerySet[Memory]:
    return Memory.objects.filter(owner=user)


def memory_get(*, user: Any, memory_id: UUID | str) -> Memory:
    try:
        return memories_of(user=user).get(pk=memory_id)
    except (Memory.DoesNotExist, ValueError, DjangoValidationError):
        raise NotFound("No such memory.") from None


def filtered_memories(*, user_id: str, filters: dict[str, str]) -> QuerySet[Memory]:
    """The owner's memories narrowed by the list filters; bad filter values are a 400."""
    filterset = MemoryFilter(filters, queryset=Memory.objects.filter(owner_id=user_id))
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    queryset = filterset.qs
    ordering = list(queryset.query.order_by) or list(Memory._meta.ordering)
    if "id" not in {field.lstrip("-") for field in ordering}:
        # Rows created in the same instant must not swap places between pages.
        ordering.append("-id" if ordering[0].startswith("-") else "id")
    return queryset.order_by(*ordering)


@cached("memories:list", namespace=_namespace)
def _memory_page(owner_id: str, filters: dict[str, str], page: int, per_page: int) -> dict:
    queryset = filtered_memories(user_id=owner_id, filters=filters)
    total = queryset.count()
    offset = (page - 1) * per_page
    rows = list(queryset[offset : offset + per_page]) if offset < total else []
    return {
        "data": MemorySerializer(rows, many=True).data,
        "meta": page_meta(page, per_page, total),
    }


def memory_list(
    *, user: Any, filters: dict[str, str], page: int, per_page: int
) -> Cached[dict[str, Any]]:
    """One page of the owner's memories: `{"data": [...], "meta": {...}}`."""
    known = {name: filters[name] for name in FILTER_PARAMS if name in filters}
    return _memory_page(str(user.pk), known, page, per_page)


@cached("memories:detail", namespace=_namespace)
def _memory_detail(owner_id: str, memory_id: str) -> dict:
    memory = memory_get(user=owner_id, memory_id=memory_id)
    return MemorySerializer(memory).data


def memory_detail(*, user: Any, memory_id: UUID | str) -> Cached[dict[str, Any]]:
    return _memory_detail(str(user.pk), str(memory_id))


def memory_similar_ranking(*, user: Any, memory: Memory) -> list[tuple[float, UUID]]:
    """`(score, id)` of the owner's other memories with a ready embedding, best first."""
    target = unpack(memory.embedding)
    candidates = (
        memories_of(user=user)
        .filter(embedding_status=EmbeddingStatus.READY)
        .exclude(pk=memory.pk)
        .values_list("pk", "embedding")
    )
    scored = [(cosine(target, unpack(embedding)), pk) for pk, embedding in candidates.iterator()]
    return sorted(scored, key=lambda pair: (-pair[0], str(pair[1])))


def memories_with_scores(*, user: Any, ranking: list[tuple[float, UUID]]) -> list[Memory]:
    """The memories of a ranking slice, in its order, each with its `score`."""
    rows = memories_of(user=user).in_bulk([pk for _, pk in ranking])
    ranked = []
    for score, pk in ranking:
        if pk in rows:
            rows[pk].score = round(score, 6)
            ranked.append(rows[pk])
    return ranked
