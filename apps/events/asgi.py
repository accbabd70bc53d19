"""The ASGI handler of the event stream.

Django's ASGI handler gives each request a thread of its own for the request's synchronous
parts (middleware, signals, a sync view) and keeps it until the response ends. For a stream
that stays open for an hour, that is an idle thread per client: the cost an event loop is
there to avoid. This handler runs those short synchronous parts on asgiref's one shared
thread instead; the stream itself runs on the event loop.
"""

import re
from typing import Any

from django.core.handlers.asgi import ASGIHandler

STREAM_PATH = re.compile(r"^/api/v1/events/?$")


def is_event_stream(scope: dict[str, Any]) -> bool:
    return scope["type"] == "http" and bool(STREAM_PATH.match(scope["path"]))


class EventStreamHandler(ASGIHandler):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"The event stream serves HTTP only, not {scope['type']}.")
        await self.handle(scope, receive, send)
