"""The base of every list's FilterSet, and filters every list can use."""

from datetime import UTC
from typing import Any

import django_filters
from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 date-time, compared in UTC. Python takes offsets up to +-23:59 but
    PostgreSQL refuses any beyond +-15:59, so the value is converted before it reaches SQL."""

    def filter(self, qs: QuerySet, value: Any) -> QuerySet:
        if value is not None:
            try:
                value = value.astimezone(UTC)
            except OverflowError:
                raise ValidationError({self.field_name: ["Out of range."]}) from None
        return super().filter(qs, value)


# Free text matches everything when empty; a list (`?ordering=`) sent empty is an empty list.
TAKES_EMPTY = (django_filters.CharFilter, django_filters.filters.BaseCSVFilter)


class StrictFilterSet(django_filters.FilterSet):
    """A query parameter sent empty is a 400 unless its filter takes free text or a list:
    `?status=` or `?created_before=` names no status and no time, so it is not silently
    ignored."""

    def is_valid(self) -> bool:
        valid = super().is_valid()
        for name, filter_ in self.filters.items():
            if self._sent_empty(name) and not isinstance(filter_, TAKES_EMPTY):
                self.form.add_error(name, "This field may not be blank.")
                valid = False
        return valid

    def _sent_empty(self, name: str) -> Any:
        return self.data is not None and name in self.data and self.data.get(name) == ""
