"""One paginator for every list (docs/api.md, "Envelope"): `?page=N&per_page=M`, `limit` an
alias of `per_page`, over-large pages clamped, pages past the end empty, bad values a 400."""

import math
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.envelope import list_envelope


def _positive_int(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ValidationError({name: ["A valid integer is required."]}) from None
    if value < 1:
        raise ValidationError({name: ["Ensure this value is greater than or equal to 1."]})
    return value


def page_params(
    request: Request, *, default_size: int | None = None, max_size: int | None = None
) -> tuple[int, int]:
    """Validated `(page, per_page)` of a request; shared by the paginator and cache keys.
    Sizes default to the DEFAULT_PAGE_SIZE and MAX_PAGE_SIZE settings. No number is too
    large: a size is clamped, and a page past the last is empty without asking the database
    for the rows at its offset, however far."""
    page = _positive_int(request, "page") or 1
    # Both are checked even when both are sent: a bad value is a 400 wherever it is.
    per_page = _positive_int(request, "per_page")
    limit = _positive_int(request, "limit")
    per_page = min(
        per_page or limit or default_size or settings.DEFAULT_PAGE_SIZE,
        max_size or settings.MAX_PAGE_SIZE,
    )
    return page, per_page


def page_meta(page: int, per_page: int, total: int) -> dict[str, int]:
    return {
        "page": page,
        "per_page": per_page,
        "total": total,
        "total_pages": math.ceil(total / per_page) if total else 0,
    }


class EnvelopePagination(BasePagination):
    # A list with its own sizes (search) sets these; None means the settings.
    default_page_size: int | None = None
    max_page_size: int | None = None

    def paginate_queryset(
        self, queryset: QuerySet | Sequence[Any], request: Request, view: Any = None
    ) -> list[Any]:
        if isinstance(queryset, QuerySet) and not queryset.ordered:
            # An unordered queryset pages unpredictably: rows repeat or vanish between pages.
            raise ImproperlyConfigured(f"{view.__class__.__name__} paginates an unordered queryset")
        page, per_page = page_params(
            request, default_size=self.default_page_size, max_size=self.max_page_size
        )
        total = queryset.count() if isinstance(queryset, QuerySet) else len(queryset)
        self.meta = page_meta(page, per_page, total)
        offset = (page - 1) * per_page
        return list(queryset[offset : offset + per_page]) if offset < total else []

    def get_paginated_response(self, data: list[Any]) -> Response:
        return Response(list_envelope(data, self.meta))

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["success", "data", "meta"],
            "properties": {
                "success": {"type": "boolean", "description": "Always true."},
                "data": schema,
                "meta": {"$ref": "#/components/schemas/PageMeta"},
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        def param(name: str, description: str) -> dict[str, Any]:
            schema = {"type": "integer", "minimum": 1}
            return {
                "name": name,
                "in": "query",
                "required": False,
                "description": description,
                "schema": schema,
            }

        return [
            param("page", "Page number, from 1. A page past the last is empty."),
            param(
                "per_page",
                f"Items per page (default {self.default_page_size or settings.DEFAULT_PAGE_SIZE}; "
                f"larger values are clamped to {self.max_page_size or settings.MAX_PAGE_SIZE}).",
            ),
            param("limit", "Alias of `per_page`."),
        ]
