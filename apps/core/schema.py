"""OpenAPI that tells the truth about the envelope.

drf-spectacular assumes renderers leave the body alone; ours wrap it. This schema class wraps
each success body in `{success, data}` (lists get the paginator's `{success, data, meta}`) and
documents the error envelope for every failure an operation can answer with.
"""

import copy
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.permissions import AllowAny

ERROR_ENVELOPE = {
    "type": "object",
    "required": ["success", "error"],
    "properties": {
        "success": {"type": "boolean", "description": "Always false."},
        "error": {
            "type": "object",
            "required": ["code", "message", "details", "request_id"],
            "properties": {
                "code": {"type": "string", "example": "VALIDATION_ERROR"},
                "message": {"type": "string"},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["field", "message"],
                        "properties": {
                            "field": {"type": "string", "nullable": True},
                            "message": {"type": "string"},
                        },
                    },
                },
                "request_id": {"type": "string"},
            },
        },
    },
}

PAGE_META = {
    "type": "object",
    "required": ["page", "per_page", "total", "total_pages"],
    "properties": {
        "page": {"type": "integer", "minimum": 1},
        "per_page": {"type": "integer", "minimum": 1},
        "total": {"type": "integer", "minimum": 0},
        "total_pages": {"type": "integer", "minimum": 0},
    },
}

_DESCRIPTIONS = {
    "400": "Invalid input (`VALIDATION_ERROR`) or a body that is not JSON (`PARSE_ERROR`)",
    "401": "No credentials (`NOT_AUTHENTICATED`) or a bad token (`INVALID_TOKEN`)",
    "403": "Authenticated but not allowed (`PERMISSION_DENIED`)",
    "404": "No such object, or not yours (`NOT_FOUND`)",
    "409": "Conflicts with the current state (`CONFLICT`)",
    "413": "Body over the configured maximum (`PAYLOAD_TOO_LARGE`)",
    "415": "Body is not `application/json` (`UNSUPPORTED_MEDIA_TYPE`)",
    "429": "Throttled (`RATE_LIMITED`); see `Retry-After`",
    "500": "Unexpected failure (`INTERNAL_ERROR`)",
    "503": "A dependency is down (`SERVICE_UNAVAILABLE`)",
}


class StrictCharFieldExtension(OpenApiSerializerFieldExtension):
    """A trimmed, non-blank text field says in the schema that white space alone is blank."""

    target_class = "apps.core.fields.StrictCharField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        from apps.core.fields import NOT_ONLY_WHITESPACE

        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction == "request" and self.target.trim_whitespace and not self.target.allow_blank:
            schema["pattern"] = NOT_ONLY_WHITESPACE
        return schema


class EnvelopeAutoSchema(AutoSchema):
    def _register(self, name: str, schema: dict[str, Any]) -> dict[str, str]:
        # A copy: the enum post-processing hook rewrites component schemas in place, which
        # would corrupt the module-level template for the next schema generated.
        component = ResolvedComponent(
            name=name, type=ResolvedComponent.SCHEMA, schema=copy.deepcopy(schema), object=name
        )
        self.registry.register_on_missing(component)
        return component.ref

    def _enveloped(self) -> bool:
        return getattr(self.view, "envelope", True)

    def _get_response_for_code(
        self,
        serializer: Any,
        status_code: str,
        media_types: Any = None,
        direction: str = "response",
    ) -> dict[str, Any]:
        response = super()._get_response_for_code(serializer, status_code, media_types, direction)
        self._register("PageMeta", PAGE_META)
        paginated = (
            not isinstance(serializer, dict)
            and self._is_list_view(serializer)
            and self._get_paginator() is not None
        )
        if not self._enveloped() or paginated or not "200" <= status_code < "300":
            return response
        for media_type, media in response.get("content", {}).items():
            if media_type == "text/event-stream":
                continue  # a stream of events, not one JSON body (apps/events)
            media["schema"] = {
                "type": "object",
                "required": ["success", "data"],
                "properties": {
                    "success": {"type": "boolean", "description": "Always true."},
                    "data": media["schema"],
                },
            }
        return response

    def _error_codes(self) -> list[str]:
        codes = ["400", "429", "500", "503"]
        if not all(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            codes += ["401", "403"]
        if "{" in self.path:
            codes.append("404")
        if self.method in ("POST", "PUT", "PATCH"):
            codes += ["413", "415"]
        codes += [str(code) for code in getattr(self.view, "error_codes", ())]
        return sorted(set(codes))

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if not self._enveloped():
            return responses
        ref = self._register("ErrorEnvelope", ERROR_ENVELOPE)
        for code in self._error_codes():
            responses.setdefault(
                code,
                {
                    "description": _DESCRIPTIONS.get(code, "Error"),
                    "content": {"application/json": {"schema": ref}},
                },
            )
        return responses
