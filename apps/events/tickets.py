"""Tickets for the live event stream (docs/events.md, "Authenticating").

A browser's `EventSource` cannot send an `Authorization` header, so a client trades its bearer
token for a ticket (`POST /api/v1/events/tickets`) and opens the stream with `?ticket=`. A
ticket is single use, lives `TICKET_SECONDS`, is bound to its user and carries the expiry of
the token it was issued for, so a stream opened with it ends when that token would have.
Redis keeps only a hash of it: a read of Redis gives nobody a usable ticket.
"""

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from apps.core.redis_clients import queue_redis

TICKET_SECONDS = 60


@dataclass(frozen=True)
class Ticket:
    """What a redeemed ticket vouches for: its user, and when the token behind it expires."""

    user_id: str
    expires_at: int

    def __getitem__(self, claim: str) -> Any:
        # Reads like a token (`request.auth["exp"]`), whichever credential opened the stream.
        if claim == "exp":
            return self.expires_at
        raise KeyError(claim)


def _key(ticket: str) -> str:
    return "tanka:event-ticket:" + hashlib.sha256(ticket.encode()).hexdigest()


def ticket_issue(*, user_id: Any, token_expires_at: int) -> str:
    """A fresh ticket for `user_id`; Redis errors propagate (the view answers 503)."""
    ticket = secrets.token_urlsafe(32)
    payload = json.dumps({"user": str(user_id), "exp": int(token_expires_at)})
    queue_redis().set(_key(ticket), payload, ex=TICKET_SECONDS)
    return ticket


def ticket_redeem(ticket: str) -> Ticket | None:
    """The ticket's claims, once: GETDEL makes a second use (even a concurrent one) find
    nothing. None for an unknown, used or expired ticket."""
    if not ticket:
        return None
    raw = queue_redis().getdel(_key(ticket))
    if raw is None:
        return None
    payload = json.loads(raw)
    return Ticket(user_id=payload["user"], expires_at=int(payload["exp"]))
