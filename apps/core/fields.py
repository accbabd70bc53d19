"""Serializer fields that accept exactly what the OpenAPI schema says they accept.

DRF's fields convert what they can (`0` -> `"0"`, `"yes"` -> `true`, `true` -> `1.0`) and
its `JSONField` takes any JSON value; the schema promises a string, a boolean, a number and
an object. A client that sends something else
gets a 400 naming the field, so the schema and the server agree (the contract fuzzing
checks it).
"""

import json
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

# The white space Python's str.strip() removes, spelled out, since JSON Schema's (ECMA) `\s`
# is not Python's (it leaves out \x1c-\x1f and \x85).
_WHITESPACE = "\t-\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Any text without a NUL character (the API refuses one in any body or parameter), as a JSON Schema
# pattern: `\x00` is the regex escape in both ECMA and Python.
NO_NUL = "^[^\\x00]*$"
# Text without a NUL holding at least one character str.strip() keeps: a trimmed field
# refuses the rest as blank. White space, then the first other character, then anything:
# a match never backtracks.
NOT_ONLY_WHITESPACE = f"^[{_WHITESPACE}]*[^\\x00{_WHITESPACE}][^\\x00]*$"


def is_valid_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class StrictCharField(serializers.CharField):
    """A string field that refuses numbers and booleans instead of converting them, and
    counts `max_length` on what was sent (the schema's `maxLength`), before any trimming."""

    default_error_messages = {
        "invalid": "Must be a string.",
        "surrogate": "Must be valid Unicode (no unpaired surrogates).",
    }

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        if not is_valid_unicode(data):
            self.fail("surrogate")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """`true` or `false`, not `0`, `1`, `"yes"` or `"on"`."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictFloatField(serializers.FloatField):
    """A JSON number, not a numeric string or a boolean."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field({"type": "object", "additionalProperties": True})
class JSONObjectField(serializers.JSONField):
    """A JSON object (never an array, a scalar or null)."""

    default_error_messages = {
        "invalid": "Must be a JSON object.",
        "not_finite": "Numbers must be finite.",
        "surrogate": "Must be valid Unicode (no unpaired surrogates).",
    }

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            self.fail("invalid")
        # `1e999` parses as infinity, which JSON (and PostgreSQL's jsonb) cannot hold; nor can
        # text hold an unpaired surrogate (`"\udead"` is valid JSON).
        try:
            text = json.dumps(value, allow_nan=False, ensure_ascii=False)
        except ValueError:
            self.fail("not_finite")
        if not is_valid_unicode(text):
            self.fail("surrogate")
        return value
