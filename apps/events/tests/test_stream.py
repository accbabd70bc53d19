"""Where a stream starts, and what it sends (docs/events.md). The stream runs here on an
event loop of the test's own; tests/system/test_events.py runs it on the real server."""

import asyncio
import time
import uuid

import pytest

from apps.core.pubsub import publish, user_stream
from apps.events.stream import ORIGIN, PING, Start, event_stream, start_position


@pytest.fixture
def user_id():
    return uuid.uuid4()


def publish_some(user_id, count: int) -> list[str]:
    return [publish(user_id=user_id, event="memory.updated", object_id=n) for n in range(count)]


def test_a_new_client_starts_after_the_newest_event(redis_queue, user_id):
    assert start_position(redis_queue, user_id, None) == Start(after=ORIGIN, reset=False)
    ids = publish_some(user_id, 2)
    assert start_position(redis_queue, user_id, None) == Start(after=ids[-1], reset=False)


def test_a_kept_id_resumes_after_it(redis_queue, user_id):
    ids = publish_some(user_id, 3)
    for seen in ids:
        assert start_position(redis_queue, user_id, seen) == Start(after=seen, reset=False)
    # Nothing published yet: a client that saw nothing (the reset's own id) is up to date.
    other = uuid.uuid4()
    assert start_position(redis_queue, other, ORIGIN) == Start(after=ORIGIN, reset=False)
    assert start_position(redis_queue, user_id, ORIGIN) == Start(after=ORIGIN, reset=False)


def test_a_trimmed_id_resumes_when_nothing_after_it_was_lost(redis_queue, user_id):
    ids = publish_some(user_id, 5)
    redis_queue.xtrim(user_stream(user_id), maxlen=3, approximate=False)  # drops ids[0] and ids[1]

    # ids[1] is gone, but the first kept entry names it: the client missed nothing kept.
    assert start_position(redis_queue, user_id, ids[1]) == Start(after=ids[1], reset=False)
    # ids[0] is gone and so is ids[1] after it: the client must reload.
    assert start_position(redis_queue, user_id, ids[0]) == Start(after=ids[-1], reset=True)


@pytest.mark.parametrize("last_event_id", ["1-0", "99999999999999-0", "not-an-id", "12", " "])
def test_an_unknown_id_is_a_reset_to_the_newest(redis_queue, user_id, last_event_id):
    ids = publish_some(user_id, 2)
    start = start_position(redis_queue, user_id, last_event_id)
    assert start == Start(after=ids[-1], reset=bool(last_event_id.strip()))


def test_an_expired_stream_resets_a_client_that_had_seen_events(redis_queue, user_id):
    (seen,) = publish_some(user_id, 1)
    redis_queue.delete(user_stream(user_id))
    assert start_position(redis_queue, user_id, seen) == Start(after=ORIGIN, reset=True)


def take(start: Start, user_id, *, ends_in: float = 30, limit: int = 100) -> list[bytes]:
    """What the stream sends, until it ends or `limit` chunks came."""

    async def run() -> list[bytes]:
        chunks: list[bytes] = []
        stream = event_stream(user_id=user_id, start=start, ends_at=time.time() + ends_in)
        try:
            async with asyncio.timeout(ends_in + 10):
                async for chunk in stream:
                    chunks.append(chunk)
                    if len(chunks) == limit:
                        break
        finally:
            await stream.aclose()
        return chunks

    return asyncio.run(run())


def test_the_stream_sends_what_came_after_its_start_in_order(redis_queue, user_id):
    ids = publish_some(user_id, 4)
    chunks = take(Start(after=ids[0], reset=False), user_id, limit=3)
    assert [chunk.split(b"\n")[0] for chunk in chunks] == [f"id: {i}".encode() for i in ids[1:]]
    assert chunks[0].split(b"\n")[1:3] == [
        b"event: memory.updated",
        b'data: {"event": "memory.updated", "id": "1", "at": '
        + chunks[0].split(b'"at": ')[1].split(b"\n")[0],
    ]
    assert all(chunk.endswith(b"\n\n") for chunk in chunks)


def test_a_reset_comes_first_and_names_where_to_resume(redis_queue, user_id):
    ids = publish_some(user_id, 2)
    (chunk,) = take(Start(after=ids[-1], reset=True), user_id, limit=1)
    assert chunk.startswith(f"id: {ids[-1]}\nevent: reset\ndata: ".encode())


def test_the_stream_pings_while_idle_and_ends_when_the_token_does(settings, user_id):
    settings.EVENTS_PING_SECONDS = 0.2
    started = time.monotonic()
    chunks = take(Start(after=ORIGIN, reset=False), user_id, ends_in=1.0)
    assert time.monotonic() - started >= 0.9
    assert chunks and set(chunks) == {PING}
