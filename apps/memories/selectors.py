"""Reads of memories, always for one owner: querysets and models (apps/memories/pages.py
renders and caches what the API sends)."""

from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.db.models import QuerySet
from django.http import Http404

from apps.memories.embeddings import Ranking, cosines
from apps.memories.models import EmbeddingStatus, Memory


def memories_of(*, user: Any) -> QuerySet[Memory]:
    """The owner's memories (a user, or a user's id)."""
    return Memory.objects.filter(owner=user)


def memory_get(*, user: Any, memory_id: UUID | str) -> Memory:
    """One of the owner's memories; another user's, or none, is a 404 alike."""
    try:
        return memories_of(user=user).get(pk=memory_id)
    except (Memory.DoesNotExist, ValueError, DjangoValidationError):
        raise Http404("No such memory.") from None


def in_page_order(queryset: QuerySet[Memory]) -> QuerySet[Memory]:
    """`queryset` in its ordering (the model's when none), made total with the id: rows
    created in the same instant must not swap places between pages."""
    ordering = list(queryset.query.order_by) or list(Memory._meta.ordering)
    if "id" not in {field.lstrip("-") for field in ordering}:
        ordering.append("-id" if ordering[0].startswith("-") else "id")
    return queryset.order_by(*ordering)


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
