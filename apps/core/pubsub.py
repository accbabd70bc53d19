"""Change events on Redis pub/sub (CONTRACT 8).

Each user has one channel, `tanka:user:{user_id}`, carrying `{"event", "id", "at"}` JSON
messages such as `job.updated` or `memory.created`. Events are best effort: a client that
needs the truth reads the resource again, so a Redis failure is logged and never fails the
write that caused the event. Publish after the write commits (`publish_on_commit`), so a
rolled-back write announces nothing.
"""

import json
import logging
from functools import partial
from typing import Any

import redis
from django.db import transaction
from django.utils import timezone

from apps.core.redis_clients import queue_redis

logger = logging.getLogger("tanka.events")


def user_channel(user_id: Any) -> str:
    return f"tanka:user:{user_id}"


def publish(*, user_id: Any, event: str, object_id: Any) -> None:
    """Send one event to the user's channel now; Redis errors are logged and swallowed."""
    message = json.dumps(
        {
            "event": event,
            "id": str(object_id),
            "at": timezone.now().isoformat().replace("+00:00", "Z"),
        }
    )
    try:
        queue_redis().publish(user_channel(user_id), message)
    except redis.RedisError as exc:
        logger.warning("event %s for %s not published: %s", event, object_id, exc)


def publish_on_commit(*, user_id: Any, event: str, object_id: Any) -> None:
    """Publish once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(
        partial(publish, user_id=user_id, event=event, object_id=object_id), robust=True
    )
