"""The one body parser of the API: a JSON object, at most `MAX_JSON_DEPTH` deep, without NUL.

Every write passes through here, so the usual body costs one `json.loads` and three
substring counts; the slower checks run only when those counts say they might find something:

- nesting: a body with at most `MAX_JSON_DEPTH` brackets cannot be deeper than that, so only
  a body with more is measured, after parsing (CPython's parser raises `RecursionError` near
  1,000 levels, which is caught here too);
- NUL: JSON can only carry one as the escape `\\u0000`, so only a body holding that text is
  searched, for the path of each string (key or value) holding a NUL. PostgreSQL cannot store
  one in text or jsonb, so without this check a NUL would be a 500 there and accepted on SQLite.
"""

import json
import re
from itertools import accumulate
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.utils.json import strict_constant

MAX_JSON_DEPTH = 64

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}

NUL_MESSAGE = "Must not contain NUL characters (\\u0000)."


def nesting_depth(text: str) -> int:
    """How deep the containers of a valid JSON text nest (`1` is 0, `{}` is 1).

    Only for text `json.loads` has accepted: an unterminated string would make the string
    pattern scan to the end from every quote."""
    brackets = _NOT_A_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def nul_paths(value: Any) -> list[str]:
    """The dotted path of every string in `value` holding a NUL; for a key, the key's path."""
    found: list[str] = []
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            items: Any = node.items()
        elif isinstance(node, list):
            items = enumerate(node)
        else:
            if isinstance(node, str) and "\x00" in node:
                found.append(path)
            continue
        for key, child in items:
            child_path = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and "\x00" in key:
                found.append(child_path)
            stack.append((child, child_path))
    return sorted(set(found))


class JSONObjectParser(JSONParser):
    """DRF's JSON parser, refusing what no endpoint of ours can take: a body that is not an
    object, or nests deeper than `MAX_JSON_DEPTH` (`PARSE_ERROR`), and NUL characters
    (`VALIDATION_ERROR` naming each field)."""

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Any = None
    ) -> dict[str, Any]:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        may_be_deep = text.count("[") + text.count("{") > MAX_JSON_DEPTH
        try:
            data = json.loads(text, parse_constant=strict_constant)
        except RecursionError:
            raise ParseError(self._too_deep()) from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if may_be_deep and nesting_depth(text) > MAX_JSON_DEPTH:
            raise ParseError(self._too_deep())
        if not isinstance(data, dict):
            raise ParseError("The body must be a JSON object.")
        if "\\u0000" in text:
            paths = nul_paths(data)
            if paths:
                raise ValidationError({path: [NUL_MESSAGE] for path in paths})
        return data

    @staticmethod
    def _too_deep() -> str:
        return f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels."
