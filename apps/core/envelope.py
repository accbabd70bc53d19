"""The JSON envelope every `/api/v1/` answer wears (CONTRACT 2)."""

from typing import Any

from apps.core.logging import request_id_var


class Envelope(dict):
    """A response body that is already enveloped; the renderer passes it through as is."""


def error_envelope(
    code: str, message: str, details: list[dict[str, Any]] | None = None
) -> Envelope:
    return Envelope(
        success=False,
        error={
            "code": code,
            "message": message,
            "details": details or [],
            "request_id": request_id_var.get(),
        },
    )


def list_envelope(data: list[Any], meta: dict[str, int]) -> Envelope:
    return Envelope(success=True, data=data, meta=meta)
