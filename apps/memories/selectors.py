"""Reads of memories, always for one owner, served through the cache."""

from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.db.models import QuerySet
from rest_framework.exceptions import NotFound, ValidationError

from apps.core.cache import Cached, cached
from apps.core.pagination import page_meta
from apps.memories.embeddings import Ranking, cosines
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


def _raw_rows(queryset: QuerySet) -> list[tuple[Any, ...]]:
    """The rows of a `values_list` queryset as the driver returns them.

    Reading embeddings costs more than scoring them: the ORM's per-row conversion triples the
    time on SQLite, and PostgreSQL's text protocol sends each embedding as hex for the client
    to decode. On PostgreSQL the rows come in binary (a cursor of the connection Django holds,
    in its transaction): a third of the client's CPU for the same rows."""
    sql, params = queryset.query.sql_with_params()
    if connection.vendor == "postgresql":
        import psycopg

        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, params, binary=True)
            return cursor.fetchall()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def memory_similar_ranking(*, user: Any, memory: Memory) -> Ranking:
    """`(score, id)` of the owner's other memories with a ready embedding, best first.

    The candidates are the `SIMILAR_MAX_CANDIDATES` most recently created, so one call's work
    is bounded however many memories the owner keeps. They are read as raw rows (`_raw_rows`)
    and scored in one pass by `cosines`.
    An embedding of another size (written by an earlier embedder) cannot be compared and is
    left out."""
    candidates = (
        memories_of(user=user)
        .filter(embedding_status=EmbeddingStatus.READY)
        .exclude(pk=memory.pk)
        .order_by("-created_at", "-id")
        .values_list("pk", "embedding")[: settings.SIMILAR_MAX_CANDIDATES]
    )
    target = bytes(memory.embedding)
    rows = _raw_rows(candidates)
    rows = [(pk, embedding) for pk, embedding in rows if len(embedding) == len(target)]
    ids = [pk for pk, _ in rows]
    return Ranking(ids, cosines(target, [embedding for _, embedding in rows]))


def memories_with_scores(*, user: Any, ranking: list[tuple[float, Any]]) -> list[Memory]:
    """The memories of a ranking slice, in its order, each with its `score` (ids as the
    database returned them: a UUID, or its hex on SQLite)."""
    ranking = [(score, UUID(str(pk))) for score, pk in ranking]
    rows = memories_of(user=user).in_bulk([pk for _, pk in ranking])
    ranked = []
    for score, pk in ranking:
        if pk in rows:
            rows[pk].score = round(score, 6)
            ranked.append(rows[pk])
    return ranked
