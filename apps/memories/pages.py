"""What the memories API sends for a list page and for one memory, rendered once and cached.

Each entry is the rendered answer, keyed by the owner, every filter, the page and its size,
and tagged with the owner's generation: any write of the owner's memories (API, admin, task)
bumps it on commit (`apps/memories/services.py`), so the writer's next read is fresh and no
key is ever searched for (apps/core/cache.py).
"""

from typing import Any
from uuid import UUID

from rest_framework.exceptions import ValidationError

from apps.core.cache import Cached, cached
from apps.core.pagination import page_meta
from apps.memories import selectors
from apps.memories.filters import MemoryFilter
from apps.memories.serializers import MemorySerializer

FILTER_PARAMS = ("memory_type", "tag", "q", "created_after", "created_before", "ordering")


def cache_namespace(owner_id: Any) -> str:
    """All cached pages of one owner's memories; writes invalidate it."""
    return f"memories:user:{owner_id}"


def _namespace(owner_id: str, *args: Any, **kwargs: Any) -> str:
    return cache_namespace(owner_id)


@cached("memories:list", namespace=_namespace)
def _list_page(owner_id: str, filters: dict[str, str], page: int, per_page: int) -> dict:
    filterset = MemoryFilter(filters, queryset=selectors.memories_of(user=owner_id))
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    queryset = selectors.in_page_order(filterset.qs)
    total = queryset.count()
    offset = (page - 1) * per_page
    rows = list(queryset[offset : offset + per_page]) if offset < total else []
    return {
        "data": MemorySerializer(rows, many=True).data,
        "meta": page_meta(page, per_page, total),
    }


def list_page(
    *, user: Any, filters: dict[str, str], page: int, per_page: int
) -> Cached[dict[str, Any]]:
    """One page of the owner's memories: `{"data": [...], "meta": {...}}`; bad filter values
    are a 400 naming the parameter."""
    known = {name: filters[name] for name in FILTER_PARAMS if name in filters}
    return _list_page(str(user.pk), known, page, per_page)


@cached("memories:detail", namespace=_namespace)
def _detail(owner_id: str, memory_id: str) -> dict:
    return MemorySerializer(selectors.memory_get(user=owner_id, memory_id=memory_id)).data


def detail(*, user: Any, memory_id: UUID | str) -> Cached[dict[str, Any]]:
    """One of the owner's memories as the API shows it."""
    return _detail(str(user.pk), str(memory_id))
