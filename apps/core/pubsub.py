"""Change events on Redis pub/sub (docs/api.md, "Cache and events").

Each user has one channel, `tanka:user:{user_id}`, carrying `{"event", "id", "at"}` JSON
messages such as `job.updated` or `memory.created`. Events are best effort: a client that
needs the truth reads the resource again, so a Redis failure is logged and never fails the
write that caused the event. Publish after the write commits (`publish_on_commit`), so a
rolled-back write announces nothing.

Inside `batched()` (each API request, each job a worker runs) events wait and leave together
in one round trip at its end, or earlier in the round trip of whoever takes them
(`add_batched`: the hand-over of a job to its queue, a worker's bookkeeping of a finished
job), so announcing costs a request or a job no round trip of its own.
"""

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from typing import Any

import redis
from django.db import transaction
from django.utils import timezone

from apps.core.redis_clients import queue_redis

logger = logging.getLogger("tanka.events")

# (channel, message) pairs waiting for the end of the current batch.
Pending = list[tuple[str, str]]
_pending: ContextVar[Pending | None] = ContextVar("tanka_events_pending", default=None)


def user_channel(user_id: Any) -> str:
    return f"tanka:user:{user_id}"


def publish(*, user_id: Any, event: str, object_id: Any) -> None:
    """Send one event to the user's channel (at the end of the current batch, if any)."""
    message = json.dumps(
        {
            "event": event,
            "id": str(object_id),
            "at": timezone.now().isoformat().replace("+00:00", "Z"),
        }
    )
    pending = _pending.get()
    if pending is not None:
        pending.append((user_channel(user_id), message))
        return
    _send([(user_channel(user_id), message)])


def publish_on_commit(*, user_id: Any, event: str, object_id: Any) -> None:
    """Publish once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(
        partial(publish, user_id=user_id, event=event, object_id=object_id), robust=True
    )


def add_batched(pipeline: Any) -> None:
    """Move the current batch's events into `pipeline`, which its caller executes."""
    pending = _pending.get()
    if pending:
        for channel, message in pending:
            pipeline.publish(channel, message)
        pending.clear()


@contextmanager
def batched() -> Iterator[None]:
    """Hold the events published inside until the block ends, then send them at once."""
    pending: Pending = []
    token = _pending.set(pending)
    try:
        yield
    finally:
        _pending.reset(token)
        if pending:
            _send(pending)


def _send(messages: Pending) -> None:
    try:
        with queue_redis().pipeline(transaction=False) as pipeline:
            for channel, message in messages:
                pipeline.publish(channel, message)
            pipeline.execute()
    except redis.RedisError as exc:
        logger.warning("%d event(s) not published: %s", len(messages), exc)
