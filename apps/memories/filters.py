from typing import Any

import django_filters
from django.db import connection
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

from apps.core.filters import StrictFilterSet, UTCDateTimeFilter
from apps.memories.models import Memory, MemoryType

ORDERINGS = ["created_at", "-created_at", "updated_at", "-updated_at"]


def with_tag(queryset: QuerySet[Memory], tag: str) -> QuerySet[Memory]:
    """Memories whose `tags` list holds `tag` exactly.

    PostgreSQL answers JSON containment (`@>`, GIN-indexable); SQLite has no such lookup in
    Django, so it asks json_each.
    """
    if connection.vendor == "postgresql":
        return queryset.filter(tags__contains=[tag])
    table = Memory._meta.db_table
    exists = RawSQL(
        f"EXISTS (SELECT 1 FROM json_each({table}.tags) WHERE json_each.value = %s)",  # noqa: S608
        [tag],
        output_field=BooleanField(),
    )
    return queryset.alias(has_tag=exists).filter(has_tag=True)


class MemoryFilter(StrictFilterSet):
    memory_type = django_filters.ChoiceFilter(choices=MemoryType.choices)
    tag = django_filters.CharFilter(method="filter_tag", max_length=50)
    q = django_filters.CharFilter(field_name="content", lookup_expr="icontains", max_length=200)
    created_after = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UTCDateTimeFilter(field_name="created_at", lookup_expr="lt")
    # One field, as the contract lists it: a plain enum in the schema, so an empty or
    # comma-joined value is a 400 rather than a guess.
    ordering = django_filters.ChoiceFilter(
        choices=[(value, value) for value in ORDERINGS], method="filter_ordering"
    )

    class Meta:
        model = Memory
        fields: list[str] = []

    def filter_ordering(
        self, queryset: QuerySet[Memory], name: str, value: Any
    ) -> QuerySet[Memory]:
        return queryset.order_by(value) if value else queryset

    def filter_tag(self, queryset: QuerySet[Memory], name: str, value: str) -> QuerySet[Memory]:
        return with_tag(queryset, value) if value else queryset
