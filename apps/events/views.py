"""The live event stream and its tickets (docs/events.md)."""

from django.core.handlers.asgi import ASGIRequest
from django.db import connections
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.authentication import BearerTokenAuthentication
from apps.core.exceptions import ServiceUnavailableError
from apps.core.redis_clients import queue_redis
from apps.events.authentication import TicketAuthentication
from apps.events.serializers import TicketSerializer
from apps.events.stream import event_stream, start_position
from apps.events.tickets import TICKET_SECONDS, ticket_issue


class EventTicketView(APIView):
    """Trade a bearer token for a ticket an `EventSource` can carry in its URL."""

    authentication_classes = [BearerTokenAuthentication]
    error_codes = (503,)

    @extend_schema(
        tags=["events"],
        request=None,
        responses={201: TicketSerializer},
        summary="A ticket for the event stream",
        description=(
            "A single-use ticket, valid 60 s and bound to the caller, for "
            "`GET /api/v1/events?ticket=...` (a browser's `EventSource` cannot send an "
            "`Authorization` header). The stream it opens ends when this request's access "
            "token expires."
        ),
    )
    def post(self, request: Request) -> Response:
        ticket = ticket_issue(user_id=request.user.pk, token_expires_at=int(request.auth["exp"]))
        return Response(
            TicketSerializer({"ticket": ticket, "expires_in": TICKET_SECONDS}).data, status=201
        )


def _release_database_connections() -> None:
    """An open stream must not hold a database connection for its hours of life (the
    request ends, and Django closes them, only when the stream does)."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


class EventStreamView(APIView):
    """The caller's events as Server-Sent Events, from the ASGI application only."""

    authentication_classes = [TicketAuthentication, BearerTokenAuthentication]
    error_codes = (503,)

    @extend_schema(
        tags=["events"],
        parameters=[
            OpenApiParameter(
                "Last-Event-ID",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description=(
                    "The id of the last event received: the stream starts with every kept "
                    "event after it; an id older than what is kept starts with `event: reset`."
                ),
            ),
            OpenApiParameter(
                "last_event_id",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                description="`Last-Event-ID` for a client that cannot set headers.",
            ),
        ],
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                response=OpenApiTypes.STR,
                description=(
                    "Never-ending: `id`, `event` and `data` (the event's JSON) per event, a "
                    "`: ping` comment every 15 s; it ends when the access token expires."
                ),
            )
        },
        summary="The caller's live events (Server-Sent Events)",
        description=(
            "`memory.created`, `memory.updated`, `memory.deleted` and `job.updated` events of "
            "the caller, within 1 s of their commit. Authenticate with a bearer token, or "
            "with `?ticket=` from `POST /api/v1/events/tickets`. See docs/events.md."
        ),
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        if not isinstance(request._request, ASGIRequest):
            raise ServiceUnavailableError(
                "The event stream is served by the ASGI application (tanka.asgi), not this server."
            )
        # A new EventSource cannot set the header: it may pass the id in the query instead.
        last_event_id = request.headers.get("Last-Event-ID") or request.query_params.get(
            "last_event_id"
        )
        start = start_position(queue_redis(), request.user.pk, last_event_id)
        _release_database_connections()
        response = StreamingHttpResponse(
            event_stream(user_id=request.user.pk, start=start, ends_at=float(request.auth["exp"])),
            content_type="text/event-stream",
        )
        response["Cache-Control"] = "no-cache"
        # nginx passes a response with this header on unbuffered, whatever its config says.
        response["X-Accel-Buffering"] = "no"
        return response
