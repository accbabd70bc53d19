"""The JSON envelope every `/api/v1/` answer wears (docs/api.md, "Envelope")."""

from typing import Any

from apps.core.logging import request_id_var

# The error code each status answers with when nothing more specific applies.
STATUS_CODES = {
    400: "VALIDATION_ERROR",
    401: "NOT_AUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    503: "SERVICE_UNAVAILABLE",
}


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
