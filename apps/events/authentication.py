"""`?ticket=` authentication for the event stream (docs/events.md), beside bearer tokens."""

import time
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from apps.core.authentication import BearerTokenAuthentication, cached_user
from apps.core.throttles import throttle_before_authentication
from apps.events.tickets import Ticket, ticket_redeem


class TicketAuthentication(BaseAuthentication):
    """A single-use ticket from `POST /api/v1/events/tickets`, for clients that cannot send
    an `Authorization` header (a browser's `EventSource`). A request without `ticket` is
    left to the next authenticator; a missing, used or expired ticket is 401 `INVALID_TOKEN`.
    Like bearer tokens, the request is counted by the throttles before it is let in."""

    def authenticate(self, request: Request) -> tuple[Any, Ticket] | None:
        if "ticket" not in request.query_params:
            return None
        ticket = ticket_redeem(request.query_params["ticket"])
        user = cached_user(ticket.user_id) if ticket is not None else None
        if ticket is None or user is None or not user.is_active:
            throttle_before_authentication(request, principal=None)
            raise exceptions.AuthenticationFailed("The ticket is unknown, used or expired.")
        throttle_before_authentication(request, principal=user)
        if ticket.expires_at <= time.time():
            raise exceptions.AuthenticationFailed("The token behind this ticket has expired.")
        return user, ticket

    def authenticate_header(self, request: Request) -> str:
        # DRF answers 401 (not 403) only when the first authenticator names a challenge.
        return BearerTokenAuthentication().authenticate_header(request)


class TicketScheme(OpenApiAuthenticationExtension):
    """Documents `?ticket=` in the OpenAPI schema as an API key in the query string."""

    target_class = TicketAuthentication
    name = "eventTicket"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "query",
            "name": "ticket",
            "description": "A single-use ticket from `POST /api/v1/events/tickets` (60 s).",
        }
