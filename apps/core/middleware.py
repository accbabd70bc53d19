"""Request plumbing (docs/api.md, "Headers"): request ids, timing, the access log, the body
limit, and the error envelope for failures that happen outside DRF's views."""

import io
import logging
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.core.exceptions import DisallowedHost, TooManyFieldsSent
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.functional import SimpleLazyObject, empty

from apps.core import pubsub, redis_clients
from apps.core.envelope import STATUS_CODES, error_envelope
from apps.core.logging import request_id_var, user_id_var
from apps.core.parsers import NUL_MESSAGE

access_logger = logging.getLogger("tanka.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

Handler = Callable[[HttpRequest], HttpResponse]

NOT_FOUND_MESSAGE = "No such path."


def is_api_path(path: str) -> bool:
    return path.startswith("/api/")


def clean_request_id(value: str | None) -> str:
    """The caller's id when it is safe to echo and log, else a fresh UUID4."""
    if value and _REQUEST_ID.match(value):
        return value
    return str(uuid.uuid4())


class RequestContextMiddleware:
    """Outermost: gives the request its id, times it, and writes its one access-log line."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = clean_request_id(request.headers.get("X-Request-ID"))
        request.request_id = request_id
        id_token = request_id_var.set(request_id)
        user_token = user_id_var.set("-")
        redis_token = redis_clients.request_started()
        try:
            with pubsub.batched(writes=True):
                response = self.get_response(request)
            if response.status_code >= 400 and is_api_path(request.path):
                response = enveloped(request, response)
            elapsed = time.perf_counter() - started
            response["X-Request-ID"] = request_id
            response["X-Process-Time"] = f"{elapsed:.6f}"
            user = getattr(request, "user", None)
            user_id = str(user.pk) if user is not None and user.is_authenticated else "-"
            access_logger.info(
                "%s %s %s %.1fms user=%s",
                request.method,
                request.path,
                response.status_code,
                elapsed * 1000,
                user_id,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round(elapsed * 1000, 2),
                    "user_id": user_id,
                },
            )
            return response
        finally:
            request_id_var.reset(id_token)
            user_id_var.reset(user_token)
            redis_clients.request_finished(redis_token)


def enveloped(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """An error under `/api/` that Django answered itself, in the error envelope with the same
    status and headers. Django's own pages (its 404 and 500 handlers', and under DEBUG its
    technical pages) answer an `Http404` from a plain view, an exception raised in a
    middleware, and a Host header outside `ALLOWED_HOSTS`, refused before any view; under
    DEBUG no handler of ours would be asked, so the answer is changed here, on its way out."""
    if response.get("Content-Type", "").startswith("application/json"):
        return response
    status = response.status_code
    if status >= 500:
        code, message = "INTERNAL_ERROR", "An internal error occurred."
    elif status == 404:
        code, message = "NOT_FOUND", NOT_FOUND_MESSAGE
    else:
        code, message = STATUS_CODES.get(status, "VALIDATION_ERROR"), "The request was refused."
    if status == 400:
        try:
            request.get_host()
        except DisallowedHost:
            message = "The Host header names a host this server does not answer for."
    answer = JsonResponse(error_envelope(code, message), status=status)
    for name, value in response.items():
        if name.lower() not in ("content-type", "content-length"):
            answer[name] = value
    return answer


class BodySizeLimitMiddleware:
    """Refuse a body over `MAX_REQUEST_BODY_BYTES` before anything reads it, and take in a
    body sent without a length (`Transfer-Encoding: chunked`).

    DRF's parsers read the stream directly, so Django's own DATA_UPLOAD_MAX_MEMORY_SIZE check
    (done only by `request.body`) never fires for JSON bodies. Django reads a body of no
    declared length as empty, so a chunked request lost its body without a word: it is read
    here, up to one byte past the limit, and given its length.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.MAX_REQUEST_BODY_BYTES
        declared = request.META.get("CONTENT_LENGTH")
        if declared:
            try:
                length = int(declared)
            except ValueError:
                length = 0
        elif "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            length = take_unsized_body(request, limit)
        else:
            length = 0
        if length > limit:
            return JsonResponse(
                error_envelope(
                    "PAYLOAD_TOO_LARGE", f"The request body is larger than {limit} bytes."
                ),
                status=413,
            )
        return self.get_response(request)


def take_unsized_body(request: HttpRequest, limit: int) -> int:
    """Read a body sent without `Content-Length` and hand it on as one of that length; past
    `limit` it is left unread, and its length is only known to be over the limit."""
    environ = getattr(request, "environ", None)
    source = environ.get("wsgi.input") if environ else None
    body = (source or request._stream).read(limit + 1)
    if len(body) <= limit:
        request._stream = LimitedStream(io.BytesIO(body), len(body))
        request.META["CONTENT_LENGTH"] = str(len(body))
    return len(body)


class QueryStringMiddleware:
    """Refuse a query string no view can use, before any view, throttle or filter reads it:
    more than `DATA_UPLOAD_MAX_NUMBER_FIELDS` parameters (Django raises `TooManyFieldsSent`
    wherever `request.GET` is first read: inside DRF a 500, and outside it under DEBUG too,
    when the debug page reads the parameters again), or a NUL character (PostgreSQL cannot
    compare text holding one). The answer is the error envelope naming each parameter, on
    every path: `/health`, the docs and the admin have no better page for it.

    The usual query string is only searched for `&` and `%00`, not parsed: parsing waits for
    a view that reads it."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        too_many = limit is not None and query.count("&") >= limit
        if not (too_many or "%00" in query or "\x00" in query):
            return self.get_response(request)
        try:
            params = request.GET
        except TooManyFieldsSent:
            message = f"At most {limit} query parameters are allowed."
            return JsonResponse(error_envelope("VALIDATION_ERROR", message), status=400)
        names = sorted(
            {
                name
                for name, values in params.lists()
                if "\x00" in name or any("\x00" in value for value in values)
            }
        )
        if not names:
            return self.get_response(request)
        details = [{"field": name, "message": NUL_MESSAGE} for name in names]
        return JsonResponse(
            error_envelope("VALIDATION_ERROR", f"{names[0]}: {NUL_MESSAGE}", details), status=400
        )


class LazyMessageMiddleware(MessageMiddleware):
    """django.contrib.messages' middleware, building a request's message storage only when
    something reads or writes a message (the admin, the browsable API's login): the API's
    requests never do, and building it costs each of them signer and settings lookups."""

    def process_request(self, request: HttpRequest) -> None:
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            return response
        return super().process_response(request, response)
