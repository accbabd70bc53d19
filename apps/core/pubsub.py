"""Change events (CONTRACT 8 and 10).

Each event is `{"event", "id", "at"}` JSON such as `job.updated` or `memory.created`, sent to
its user in one Redis round trip that does two things:

- appends it to the user's stream `tanka:events:{user_id}`, which the live event stream
  (`apps/events`) reads: the entry id is the Server-Sent Events id, so a client that
  reconnects gets what it missed. Each user keeps at least the last `STREAM_KEEP` events,
  for `STREAM_TTL` seconds after the newest; each entry also records the id of the entry
  before it, so a reader can tell an unbroken run of events from one that lost some to
  trimming (see docs/events.md);
- publishes it on the user's pub/sub channel `tanka:user:{user_id}`, unchanged, for
  subscribers that read Redis directly and as the doorbell that wakes the live streams.

Events are best effort: a client that needs the truth reads the resource again, so a Redis
failure is logged and never fails the write that caused the event. Publish after the write
commits (`publish_on_commit`), so a rolled-back write announces nothing.
"""

import json
import logging
from functools import cache, partial
from typing import Any

import redis
from django.db import transaction
from django.utils import timezone
from redis.commands.core import Script

from apps.core.redis_clients import queue_redis

logger = logging.getLogger("tanka.events")

STREAM_KEEP = 1000
STREAM_TTL = 24 * 60 * 60

# KEYS[1] the stream; ARGV: keep, ttl, channel, message, event name. Returns the entry's id.
_PUBLISH = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local prev = '0-0'
if last[1] then prev = last[1][1] end
local id = redis.call(
  'XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'prev', prev, 'event', ARGV[5], 'data', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return id
"""


def user_channel(user_id: Any) -> str:
    return f"tanka:user:{user_id}"


def user_stream(user_id: Any) -> str:
    return f"tanka:events:{user_id}"


@cache
def _publish_script(client: redis.Redis) -> Script:
    # EVALSHA: one command, so one round trip; redis-py loads the script on first use.
    return client.register_script(_PUBLISH)


def publish(*, user_id: Any, event: str, object_id: Any) -> str | None:
    """Send one event to the user now: its stream id, or None when Redis failed (logged)."""
    message = json.dumps(
        {
            "event": event,
            "id": str(object_id),
            "at": timezone.now().isoformat().replace("+00:00", "Z"),
        }
    )
    client = queue_redis()
    try:
        entry_id = _publish_script(client)(
            keys=[user_stream(user_id)],
            args=[STREAM_KEEP, STREAM_TTL, user_channel(user_id), message, event],
        )
    except redis.RedisError as exc:
        logger.warning("event %s for %s not published: %s", event, object_id, exc)
        return None
    return entry_id.decode() if isinstance(entry_id, bytes) else entry_id


def publish_on_commit(*, user_id: Any, event: str, object_id: Any) -> None:
    """Publish once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(
        partial(publish, user_id=user_id, event=event, object_id=object_id), robust=True
    )
