"""The live event stream (docs/events.md): where a stream starts, and the stream itself.

Each user's events are in the Redis stream `tanka:events:{user_id}` (written by
`apps/core/pubsub.py`); its entry ids are the Server-Sent Events ids. A connection first
finds where to start (`start_position`, synchronous, inside the view that authenticated the
caller), then streams (`event_stream`, on the event loop): it reads every entry after the
last one it sent, and waits for the user's pub/sub channel to ring before reading again.
Reading from the stream, never from the pub/sub message, is what makes a resumed stream
gap-free and duplicate-free: the message only says "read now", and a message lost to a
reconnect to Redis costs a delay until the next ping, when the stream is read anyway.

One pub/sub connection per process serves every open stream (`Hub`), so 1,000 streams cost
1,000 sockets to the clients, one to Redis for the doorbells, and a few for the reads.
"""

import asyncio
import json
import logging
import re
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis
from django.conf import settings
from django.utils import timezone

from apps.core.pubsub import user_channel, user_stream

logger = logging.getLogger("tanka.events")

# Entries read per round trip; a client that missed more gets them in several reads.
READ_COUNT = 500
# The id before any entry: what a client that has seen nothing yet resumes from.
ORIGIN = "0-0"
_ENTRY_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
# Seconds an async Redis read may take before the stream treats Redis as down.
READ_TIMEOUT = 5.0


@dataclass(frozen=True)
class Start:
    """Where a stream starts: the entries after `after`; `reset` when the client's
    Last-Event-ID is older than what is kept (or unknown), so it must reload."""

    after: str
    reset: bool


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def start_position(client: redis.Redis, user_id: Any, last_event_id: str | None) -> Start:
    """Where to start a stream for a client that last saw `last_event_id` (None: a new
    client, which gets the events from now on).

    The client's id is known when it is still kept, or when the first kept entry after it
    records it as its predecessor (so nothing between them was trimmed away). Anything else
    (trimmed, expired, never issued, malformed) is a reset: the stream says so first and
    then goes on from the newest entry.
    """
    key = user_stream(user_id)
    if last_event_id is not None:
        last_event_id = last_event_id.strip()
    if last_event_id and _ENTRY_ID.match(last_event_id):
        first = client.xrange(key, min=last_event_id, count=1)
        if first:
            entry_id, fields = first[0]
            if last_event_id in (_text(entry_id), _text(fields.get(b"prev", b""))):
                return Start(after=last_event_id, reset=False)
        elif last_event_id == ORIGIN:
            return Start(after=ORIGIN, reset=False)
    newest = client.xrevrange(key, count=1)
    after = _text(newest[0][0]) if newest else ORIGIN
    return Start(after=after, reset=bool(last_event_id))


def frame(entry_id: str, event: str, data: str) -> bytes:
    """One Server-Sent Event. `data` is one line of JSON (json.dumps never writes a newline)."""
    return f"id: {entry_id}\nevent: {event}\ndata: {data}\n\n".encode()


PING = b": ping\n\n"


class Hub:
    """One process's (one event loop's) Redis connections for every open stream: a pub/sub
    connection subscribed to the channels of the users with a stream open here, which rings
    each of their streams' bells, and a small pool for reading the users' streams."""

    def __init__(self, url: str) -> None:
        self.reads = aioredis.Redis(
            connection_pool=aioredis.BlockingConnectionPool.from_url(
                url, max_connections=16, timeout=READ_TIMEOUT, socket_connect_timeout=2
            ),
        )
        self.pubsub = aioredis.Redis.from_url(
            url, socket_connect_timeout=2, health_check_interval=30
        ).pubsub()
        self.bells: dict[str, set[asyncio.Event]] = {}
        self.confirmed: dict[str, asyncio.Event] = {}
        self.lock = asyncio.Lock()
        self.reader: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def listen(self, channel: str) -> AsyncIterator[asyncio.Event]:
        """A bell that rings when `channel` gets a message, from the moment Redis confirmed
        the subscription (so a message published after this returns is never missed)."""
        bell = asyncio.Event()
        async with self.lock:
            subscribers = self.bells.setdefault(channel, set())
            subscribers.add(bell)
            if len(subscribers) == 1:
                self.confirmed[channel] = asyncio.Event()
                await self.pubsub.subscribe(channel)
                if self.reader is None or self.reader.done():
                    self.reader = asyncio.create_task(self._read())
            confirmed = self.confirmed[channel]
        try:
            try:
                await asyncio.wait_for(confirmed.wait(), READ_TIMEOUT)
            except TimeoutError:
                # The stream still works: it reads at every ping until the doorbell answers.
                logger.warning("no confirmation of the subscription to %s", channel)
            yield bell
        finally:
            async with self.lock:
                subscribers = self.bells.get(channel, set())
                subscribers.discard(bell)
                if not subscribers:
                    self.bells.pop(channel, None)
                    self.confirmed.pop(channel, None)
                    try:
                        await self.pubsub.unsubscribe(channel)
                    except redis.RedisError as exc:
                        logger.warning("unsubscribing from %s failed: %s", channel, exc)

    async def _read(self) -> None:
        while True:
            try:
                message = await self.pubsub.get_message(timeout=30)
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError) as exc:
                # redis-py reconnects and subscribes again on the next read; meanwhile wake
                # every stream so it reads what the lost messages would have announced.
                logger.warning("event doorbell connection lost: %s", exc)
                await asyncio.sleep(0.5)
                self._ring_all()
                continue
            if message is None:
                continue
            channel = _text(message["channel"])
            if message["type"] == "subscribe":
                if channel in self.confirmed:
                    self.confirmed[channel].set()
            elif message["type"] == "message":
                for bell in self.bells.get(channel, ()):
                    bell.set()

    def _ring_all(self) -> None:
        for subscribers in self.bells.values():
            for bell in subscribers:
                bell.set()

    async def read_after(self, key: str, after: str) -> list[tuple[str, dict[bytes, bytes]]]:
        """Up to READ_COUNT entries of `key` after `after`, oldest first."""
        result = await asyncio.wait_for(
            self.reads.xread({key: after}, count=READ_COUNT), READ_TIMEOUT
        )
        if not result:
            return []
        # RESP2 answers [[key, entries]]; RESP3 answers {key: [entries]}.
        entries = next(iter(result.values()))[0] if isinstance(result, dict) else result[0][1]
        return [(_text(entry_id), fields) for entry_id, fields in entries]


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()


def hub() -> Hub:
    """This event loop's hub (redis.asyncio connections belong to the loop that made them)."""
    loop = asyncio.get_running_loop()
    if loop not in _hubs:
        _hubs[loop] = Hub(settings.REDIS_QUEUE_URL)
    return _hubs[loop]


async def event_stream(*, user_id: Any, start: Start, ends_at: float) -> AsyncIterator[bytes]:
    """The user's events after `start`, then the live ones as they come, a ping every
    `EVENTS_PING_SECONDS`, until `ends_at` (the access token's expiry, a Unix time)."""
    if start.reset:
        at = timezone.now().isoformat().replace("+00:00", "Z")
        yield frame(start.after, "reset", json.dumps({"event": "reset", "at": at}))
    events = hub()
    key = user_stream(user_id)
    after = start.after
    loop = asyncio.get_running_loop()
    ping_every = float(settings.EVENTS_PING_SECONDS)
    next_ping = loop.time() + ping_every
    async with events.listen(user_channel(user_id)) as bell:
        while True:
            bell.clear()
            try:
                entries = await events.read_after(key, after)
            except (redis.RedisError, OSError, TimeoutError) as exc:
                logger.warning("reading the events of %s failed: %s", user_id, exc)
                entries = []
            for entry_id, fields in entries:
                yield frame(entry_id, _text(fields[b"event"]), _text(fields[b"data"]))
                after = entry_id
            if len(entries) == READ_COUNT:
                continue
            remaining = ends_at - time.time()
            if remaining <= 0:
                return
            try:
                await asyncio.wait_for(
                    bell.wait(), timeout=max(0.0, min(next_ping - loop.time(), remaining))
                )
            except TimeoutError:
                if loop.time() >= next_ping and time.time() < ends_at:
                    yield PING
                    next_ping = loop.time() + ping_every
