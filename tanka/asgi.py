"""The ASGI application: the live event stream (`/api/v1/events`) on its own handler, every
other path on Django's. Production routes only the stream here (docker/nginx.conf); the local
stack (`make run`) serves everything from it. See docs/events.md."""

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tanka.settings")
# Django runs each request's sync code in a thread of its own here, so a connection kept per
# thread (CONN_MAX_AGE) would be a new one per request, never reused, until PostgreSQL refuses
# more clients. A pool shared by those threads bounds them (tanka/settings.py, DATABASES).
os.environ.setdefault("DATABASE_POOL_SIZE", "10")

django_application = get_asgi_application()

from apps.events.asgi import EventStreamHandler, is_event_stream  # noqa: E402 (after setup)

event_stream_application = EventStreamHandler()


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    elif is_event_stream(scope):
        await event_stream_application(scope, receive, send)
    else:
        await django_application(scope, receive, send)
