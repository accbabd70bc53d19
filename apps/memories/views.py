from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.envelope import list_envelope
from apps.core.exceptions import ConflictError
from apps.core.pagination import EnvelopePagination, page_params
from apps.core.throttles import AnonRateThrottle, SimilarRateThrottle, UserRateThrottle
from apps.memories import pages, selectors, services
from apps.memories.filters import MemoryFilter
from apps.memories.models import EmbeddingStatus, Memory
from apps.memories.serializers import MemorySerializer, SimilarMemorySerializer


class SimilarPagination(EnvelopePagination):
    """`?limit=5` by default, at most 50, over the ranked list."""

    default_page_size = 5
    max_page_size = 50


def cache_header(response: Response, status: str) -> Response:
    response["X-Cache"] = status
    return response


@extend_schema_view(
    list=extend_schema(summary="Your memories, filtered and paginated"),
    create=extend_schema(summary="Remember something"),
    retrieve=extend_schema(summary="One of your memories"),
    update=extend_schema(summary="Replace a memory (omitted optional fields reset)"),
    partial_update=extend_schema(summary="Change some fields of a memory"),
    destroy=extend_schema(summary="Forget a memory"),
)
class MemoryViewSet(viewsets.ModelViewSet):
    """The caller's memories. Reads are cached (`X-Cache: HIT|MISS|BYPASS`) and every write
    is visible to the writer's next read at once."""

    serializer_class = MemorySerializer
    filterset_class = MemoryFilter
    # Any id but one with a NUL, which the schema (and PostgreSQL) refuse.
    lookup_value_regex = r"[^/\x00]+"

    @property
    def error_codes(self) -> tuple[int, ...]:
        """`similar` is a 409 while the memory's embedding is not ready."""
        return (409,) if getattr(self, "action", None) == "similar" else ()

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            # Schema generation has no user; it only needs the model.
            return Memory.objects.none()
        return selectors.memories_of(user=self.request.user)

    def get_object(self) -> Memory:
        return selectors.memory_get(user=self.request.user, memory_id=self.kwargs["pk"])

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page, per_page = page_params(request)
        result = pages.list_page(
            user=request.user, filters=request.query_params.dict(), page=page, per_page=per_page
        )
        body = list_envelope(result.value["data"], result.value["meta"])
        return cache_header(Response(body), result.status)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        result = pages.detail(user=request.user, memory_id=kwargs["pk"])
        return cache_header(Response(result.value), result.status)

    def perform_create(self, serializer: MemorySerializer) -> None:
        serializer.instance = services.memory_create(
            owner=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer: MemorySerializer) -> None:
        serializer.instance = services.memory_update(
            memory=serializer.instance,
            data=serializer.validated_data,
            replace=not serializer.partial,
        )

    def perform_destroy(self, instance: Memory) -> None:
        services.memory_delete(memory=instance)

    @extend_schema(
        summary="Your other memories most like this one, with a similarity score",
        description=(
            "Ranks your other memories with a ready embedding by cosine similarity to this "
            "one, best first (ties by id), among your most recently created ones "
            "(`SIMILAR_MAX_CANDIDATES`, default 10,000). Rate limited per user "
            "(`RATE_LIMIT_SIMILAR_PER_MINUTE`)."
        ),
        responses={200: SimilarMemorySerializer(many=True)},
        filters=False,
    )
    @action(
        detail=True,
        methods=["get"],
        filterset_class=None,
        pagination_class=SimilarPagination,
        serializer_class=SimilarMemorySerializer,
        throttle_classes=[AnonRateThrottle, UserRateThrottle, SimilarRateThrottle],
    )
    def similar(self, request: Request, pk: str) -> Response:
        memory = selectors.memory_get(user=request.user, memory_id=pk)
        if memory.embedding_status != EmbeddingStatus.READY:
            raise ConflictError(
                f"This memory's embedding is {memory.embedding_status}; ask again once it is ready."
            )
        ranking = selectors.memory_similar_ranking(user=request.user, memory=memory)
        page = self.paginate_queryset(ranking)
        rows = selectors.memories_with_scores(user=request.user, ranking=page)
        return self.get_paginated_response(SimilarMemorySerializer(rows, many=True).data)
