"""Renderers: JSON in the envelope, and the browsable API for browsers.

Views that answer outside the envelope (health) set `envelope = False`.
"""

import json
from typing import Any

import orjson
from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder

from apps.core.envelope import STATUS_CODES, Envelope, error_envelope

_fallback_encoder = JSONEncoder()


def dumps(data: Any, *, indent: bool = False) -> bytes:
    """orjson for speed; DRF's encoder for what orjson does not know (Decimal, lazy text).

    JSON integers have no size limit and stored JSON (metadata, job payloads) may hold ones
    beyond 64 bits, which orjson refuses: the standard library writes those.
    """
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_INDENT_2 if indent else 0)
    try:
        return orjson.dumps(data, default=_fallback_encoder.default, option=option)
    except orjson.JSONEncodeError:
        text = json.dumps(data, cls=JSONEncoder, indent=2 if indent else None, allow_nan=False)
        return text.encode()


def envelope_for(data: Any, renderer_context: dict[str, Any] | None) -> Any:
    """Wrap `data` as the response it belongs to needs; pass through what is enveloped."""
    context = renderer_context or {}
    response = context.get("response")
    view = context.get("view")
    if isinstance(data, Envelope) or not getattr(view, "envelope", True):
        return data
    if response is not None and response.status_code >= 400:
        code = STATUS_CODES.get(response.status_code, "INTERNAL_ERROR")
        message = data.get("detail", code) if isinstance(data, dict) else code
        return error_envelope(code, str(message), [])
    return {"success": True, "data": data}


class EnvelopeJSONRenderer(renderers.JSONRenderer):
    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        response = (renderer_context or {}).get("response")
        if data is None and (response is None or response.status_code == 204):
            return b""
        indent = bool(self.get_indent(accepted_media_type, renderer_context or {}))
        return dumps(envelope_for(data, renderer_context), indent=indent)


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's HTML pages for browsers, except that errors are always JSON (docs/api.md, "Paths")."""

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        response = (renderer_context or {}).get("response")
        if response is not None and response.status_code >= 400:
            response["Content-Type"] = "application/json"
            return EnvelopeJSONRenderer().render(data, "application/json", renderer_context)
        return super().render(data, accepted_media_type, renderer_context)
