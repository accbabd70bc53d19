"""What every serializer on a hot path shares."""

import copy

from rest_framework import serializers
from rest_framework.fields import Field


def _copy_field(field: Field) -> Field:
    """An unbound copy of a template field, for one serializer instance to bind.

    DRF deep-copies each declared field (re-running its `__init__`) and builds each model
    field from the model's metadata on every instance. A shallow copy is enough for what
    `bind()` sets on a plain field; a child field (`ListField`, `DictField`) is copied too and
    given its new parent; anything nested deeper is deep-copied as DRF would."""
    if isinstance(field, serializers.BaseSerializer) or hasattr(field, "child_relation"):
        return copy.deepcopy(field)
    copied = copy.copy(field)
    child = getattr(field, "child", None)
    if child is not None:
        if isinstance(child, serializers.BaseSerializer) or hasattr(child, "child"):
            return copy.deepcopy(field)
        # The child was bound once, to the template; only its parent differs.
        copied.child = copy.copy(child)
        copied.child.parent = copied
    return copied


class FieldsBuiltOnce:
    """A serializer whose fields are built once per class instead of once per instance.

    Building a `ModelSerializer`'s fields (copying the declared ones, deriving the rest from
    the model) was about a tenth of a memory create's time in the api process
    (bench/RESULTS.md); the instances each request makes now copy a template built on first
    use. Only for serializers whose `get_fields()` does not depend on the instance (its
    context, request or data): it is called once, for the first instance of each class.
    """

    def get_fields(self) -> dict[str, Field]:
        cls = type(self)
        template = cls.__dict__.get("_template_fields")
        if template is None:
            template = super().get_fields()  # type: ignore[misc]
            cls._template_fields = template  # type: ignore[attr-defined]
        return {name: _copy_field(field) for name, field in template.items()}
