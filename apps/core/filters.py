"""The base of every list's FilterSet."""

from typing import Any

import django_filters

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
