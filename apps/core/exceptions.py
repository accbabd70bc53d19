"""One error shape for every failure (docs/api.md, "Errors").

Services raise `ApplicationError` subclasses; DRF raises its own exceptions; anything else is
an internal error. `exception_handler` turns all of them into the error envelope and keeps the
headers DRF set (`Retry-After`, `WWW-Authenticate`).
"""

import logging
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from apps.core.envelope import STATUS_CODES, error_envelope

logger = logging.getLogger("tanka.errors")


class ApplicationError(Exception):
    """A domain error a service raises; the handler maps it to the error envelope."""

    status_code = 400
    code = "BAD_REQUEST"
    default_message = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        self.message = message or self.default_message
        if code:
            self.code = code
        self.details = details or []
        super().__init__(self.message)


class ConflictError(ApplicationError):
    status_code = 409
    code = "CONFLICT"
    default_message = "The request conflicts with the current state of the resource."


class ServiceUnavailableError(ApplicationError):
    status_code = 503
    code = "SERVICE_UNAVAILABLE"
    default_message = "A service this request needs is unavailable. Try again shortly."


class RateLimitedError(ApplicationError):
    """A 429 that is not a request rate (a cap on what a user holds): the client may try
    again after `retry_after` seconds."""

    status_code = 429
    code = "RATE_LIMITED"
    default_message = "Too many requests."
    retry_after = 5


class PayloadTooLargeError(ApplicationError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"
    default_message = "The request body is too large."


# Most specific first: the first matching class names the code.
_DRF_CODES: list[tuple[type[Exception], str]] = [
    (drf.ValidationError, "VALIDATION_ERROR"),
    (drf.ParseError, "PARSE_ERROR"),
    (drf.NotAuthenticated, "NOT_AUTHENTICATED"),
    (drf.AuthenticationFailed, "INVALID_TOKEN"),
    (drf.PermissionDenied, "PERMISSION_DENIED"),
    (drf.NotFound, "NOT_FOUND"),
    (drf.MethodNotAllowed, "METHOD_NOT_ALLOWED"),
    (drf.NotAcceptable, "NOT_ACCEPTABLE"),
    (drf.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"),
    (drf.Throttled, "RATE_LIMITED"),
]


_UNAVAILABLE = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)


def flatten_details(detail: Any, prefix: str = "") -> list[dict[str, Any]]:
    """Turn DRF's nested error detail into `[{field, message}]` with dotted field paths."""
    if isinstance(detail, dict):
        items: list[dict[str, Any]] = []
        for key, value in detail.items():
            name = "" if key in ("non_field_errors", "detail") else str(key)
            items += flatten_details(
                value, f"{prefix}.{name}" if prefix and name else prefix or name
            )
        return items
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [{"field": prefix or None, "message": str(item)} for item in detail]
        items = []
        for index, value in enumerate(detail):
            if value in ({}, []):
                continue
            items += flatten_details(value, f"{prefix}.{index}" if prefix else str(index))
        return items
    return [{"field": prefix or None, "message": str(detail)}]


def _validation_message(details: list[dict[str, Any]]) -> str:
    if not details:
        return "Invalid input."
    first = details[0]
    return f"{first['field']}: {first['message']}" if first["field"] else first["message"]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every exception becomes the error envelope."""
    if isinstance(exc, ApplicationError):
        set_rollback()
        # A 401 always names the scheme that would work (RFC 9110).
        headers = {"WWW-Authenticate": 'Bearer realm="api"'} if exc.status_code == 401 else None
        if isinstance(exc, RateLimitedError):
            headers = {"Retry-After": str(exc.retry_after), "X-RateLimit-Remaining": "0"}
        return Response(
            error_envelope(exc.code, exc.message, exc.details),
            status=exc.status_code,
            headers=headers,
        )

    response = drf_exception_handler(exc, context)
    if response is None:
        set_rollback()
        if isinstance(exc, _UNAVAILABLE) or (
            isinstance(exc, DatabaseError) and "connection" in str(exc).lower()
        ):
            logger.error("dependency unavailable: %s", exc.__class__.__name__, exc_info=exc)
            error = ServiceUnavailableError()
            return Response(
                error_envelope(error.code, error.message, []),
                status=error.status_code,
                headers={"Retry-After": "5"},
            )
        logger.error("unhandled exception in %s", context.get("view"), exc_info=exc)
        return Response(
            error_envelope("INTERNAL_ERROR", "An internal error occurred.", []), status=500
        )

    # DRF's handler turned Http404 and Django's PermissionDenied into its own exceptions.
    if isinstance(exc, drf.APIException):
        api_exc = exc
    elif response.status_code == 404:
        api_exc = drf.NotFound()
    else:
        api_exc = drf.PermissionDenied()
    code = next(
        (name for cls, name in _DRF_CODES if isinstance(api_exc, cls)),
        STATUS_CODES.get(response.status_code, "INTERNAL_ERROR"),
    )
    if code == "VALIDATION_ERROR":
        details = flatten_details(api_exc.detail)
        message = _validation_message(details)
    else:
        details = []
        message = str(api_exc.detail) if not isinstance(api_exc.detail, dict | list) else code
    if code in ("NOT_AUTHENTICATED", "INVALID_TOKEN"):
        response.status_code = 401
        if "WWW-Authenticate" not in response:
            response["WWW-Authenticate"] = 'Bearer realm="api"'
    if code == "RATE_LIMITED":
        response["X-RateLimit-Remaining"] = "0"
    response.data = error_envelope(code, message, details)
    return response
