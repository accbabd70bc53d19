"""Change events (docs/api.md "Cache and events", docs/events.md).

Each event is `{"event", "id", "at"}` JSON such as `job.updated` or `memory.created`, sent to
its user by one Redis script that does two things:

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

Inside `batched()` (each API request, each job a worker runs) events, and in a request the
other writes that join them (`defer`: the cache's invalidations, apps/core/cache.py), wait
and leave together in one round trip at its end, or earlier in the round trip of whoever takes them
(`add_batched`: the hand-over of a job to its queue, a worker's bookkeeping of a finished
job), so announcing costs a request or a job no round trip of its own.
"""

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from typing import Any

import redis
from django.db import transaction
from django.utils import timezone

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

# Writes waiting for the end of the current batch, each adding its commands to a pipeline.
Pending = list[Callable[[Any], None]]
_pending: ContextVar[Pending | None] = ContextVar("tanka_events_pending", default=None)
# Whether the current batch also takes other writes (`defer`).
_takes_writes: ContextVar[bool] = ContextVar("tanka_batch_takes_writes", default=False)


def user_channel(user_id: Any) -> str:
    return f"tanka:user:{user_id}"


def user_stream(user_id: Any) -> str:
    return f"tanka:events:{user_id}"


def publish(*, user_id: Any, event: str, object_id: Any) -> str | None:
    """Send one event to the user: now, with its stream id (None when Redis failed, which is
    logged), or at the end of the current batch (None)."""
    message = json.dumps(
        {
            "event": event,
            "id": str(object_id),
            "at": timezone.now().isoformat().replace("+00:00", "Z"),
        }
    )
    write = partial(_add_event, user_id, event, message)
    if _hold(write):
        return None
    ids = _send([write])
    return ids[0] if ids else None


def defer(write: Callable[[Any], None]) -> bool:
    """Have `write(pipeline)` add its commands to the current batch's round trip (on the
    queue's Redis connection): True, or False outside a batch that takes writes, where the
    caller writes now."""
    return _takes_writes.get() and _hold(write)


def _hold(write: Callable[[Any], None]) -> bool:
    """Add `write` to the current batch; False outside one."""
    pending = _pending.get()
    if pending is None:
        return False
    pending.append(write)
    return True


def publish_on_commit(*, user_id: Any, event: str, object_id: Any) -> None:
    """Publish once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(
        partial(publish, user_id=user_id, event=event, object_id=object_id), robust=True
    )


def add_batched(pipeline: Any) -> None:
    """Move the current batch's writes into `pipeline`, which its caller executes."""
    pending = _pending.get()
    if pending:
        for write in pending:
            write(pipeline)
        pending.clear()


@contextmanager
def batched(*, writes: bool = False) -> Iterator[None]:
    """Hold the events published inside until the block ends, then send them at once.

    With `writes`, other writes deferred inside (`defer`) wait too. Only for a block that
    ends before anyone can see what those writes follow: a request, which sends its batch
    before it answers. Not a job, whose batch leaves after its row says it is done: a client
    that sees the job completed must find the cache it invalidated already invalidated."""
    pending: Pending = []
    token = _pending.set(pending)
    writes_token = _takes_writes.set(writes)
    try:
        yield
    finally:
        _takes_writes.reset(writes_token)
        _pending.reset(token)
        if pending:
            _send(pending)


def _add_event(user_id: Any, event: str, message: str, pipeline: Any) -> None:
    # EVAL rather than EVALSHA: a pipeline that uses a registered script first asks Redis
    # whether it knows it, a round trip of its own.
    pipeline.eval(
        _PUBLISH,
        1,
        user_stream(user_id),
        STREAM_KEEP,
        STREAM_TTL,
        user_channel(user_id),
        message,
        event,
    )


def _send(writes: Pending) -> list[str]:
    """The writes in one round trip; their replies (an event's is its stream id), none when
    Redis failed."""
    try:
        with queue_redis().pipeline(transaction=False) as pipeline:
            for write in writes:
                write(pipeline)
            ids = pipeline.execute()
    except redis.RedisError as exc:
        logger.warning("%d event(s) or cache invalidation(s) not published: %s", len(writes), exc)
        return []
    return [entry.decode() if isinstance(entry, bytes) else entry for entry in ids]
