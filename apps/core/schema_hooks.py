from typing import Any

from apps.core.fields import NO_NUL


def strip_trailing_slashes(
    endpoints: list[tuple[Any, ...]], **kwargs: Any
) -> list[tuple[Any, ...]]:
    """Our routes end in an optional `/?`; the schema shows each path in its canonical form,
    without the slash, as the contract writes it."""
    result = []
    for path, path_regex, method, callback in endpoints:
        result.append((path.rstrip("/") or "/", path_regex, method, callback))
    return result


JSON_VALUE = "JSONValue"
_JSON_VALUE_REF = {"$ref": f"#/components/schemas/{JSON_VALUE}"}


def forbid_nul_characters(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Everything a client sends (parameters and request bodies) says it holds no NUL: the
    API refuses one in any string or key (apps/core/parsers.py).

    A string gets a pattern, unless an enum, a format (an email, a date-time: none holds a
    NUL) or a pattern of its own says more (ours leave NUL out, apps/core/fields.py; a test
    checks each). An object's keys get the same pattern
    (`propertyNames`, OpenAPI 3.1), and what it may hold beyond its declared properties, like
    a free-form `metadata`, is `JSONValue`: any JSON without a NUL, at any depth."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", []):
                _forbid_nul(parameter.get("schema", {}))
    for name, component in schemas.items():
        if name.endswith("Request"):
            _forbid_nul(component)
    schemas[JSON_VALUE] = {
        "description": "Any JSON value without a NUL character in its strings or its keys.",
        "anyOf": [
            {"type": "string", "pattern": NO_NUL},
            {"type": ["number", "boolean", "null"]},
            {"type": "array", "items": _JSON_VALUE_REF},
            {
                "type": "object",
                "propertyNames": {"pattern": NO_NUL},
                "additionalProperties": _JSON_VALUE_REF,
            },
        ],
    }
    return result


def nullable_anything_is_anything(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular writes a nullable free-form value (a job's `result`) as
    `oneOf: [{}, {"type": "null"}]`, which no value can match (null matches both): say
    "any value" instead."""

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("oneOf") == [{}, {"type": "null"}]:
                del node["oneOf"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(result)
    return result


def _forbid_nul(schema: Any) -> None:
    if isinstance(schema, list):
        for item in schema:
            _forbid_nul(item)
        return
    if not isinstance(schema, dict) or "$ref" in schema:
        return
    if schema.get("type") == "string" and not {"enum", "format", "pattern"} & set(schema):
        schema["pattern"] = NO_NUL
    if schema.get("type") == "object" or "properties" in schema:
        schema.setdefault("propertyNames", {"pattern": NO_NUL})
        if schema.get("additionalProperties", True) is True:
            schema["additionalProperties"] = dict(_JSON_VALUE_REF)
    for value in schema.get("properties", {}).values():
        _forbid_nul(value)
    for key in ("items", "additionalProperties", "allOf", "anyOf", "oneOf"):
        _forbid_nul(schema.get(key))
