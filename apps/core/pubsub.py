"""Events on Redis pub/sub, one channel per user (CONTRACT 8)."""

import logging
from datetime import UTC, datetime
from typing import Any

import orjson
from django.conf import settings
from redis import Redis
from redis.exceptions import RedisError

logger = logging.getLogger("tanka.events")


def channel_for(user_id: Any) -> str:
    return f"tanka:user:{user_id}"


def publish(*, user_id: Any, event: str, object_id: Any) -> None:
    """Publish `{"event", "id", "at"}`; an event must never fail the write it reports."""
    message = orjson.dumps(
        {"event": event, "id": str(object_id), "at": datetime.now(UTC).isoformat()}
    )
    try:
        client = Redis.from_url(
            settings.REDIS_QUEUE_URL,
            socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
            socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
        )
        client.publish(channel_for(user_id), message)
    except RedisError as exc:
        logger.warning("event %s for user %s not published: %s", event, user_id, exc)
