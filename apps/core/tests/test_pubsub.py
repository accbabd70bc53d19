"""Change events on the owner's pub/sub channel and stream (docs/api.md, "Cache and events";
docs/events.md)."""

import json
import uuid

import pytest
import redis
from django.conf import settings

from apps.core.pubsub import (
    STREAM_KEEP,
    STREAM_TTL,
    add_batched,
    batched,
    publish,
    publish_on_commit,
    user_channel,
    user_stream,
)


@pytest.fixture
def listener():
    client = redis.Redis.from_url(settings.REDIS_QUEUE_URL)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    yield pubsub
    pubsub.close()
    client.close()


def next_message(pubsub, timeout: float = 5):
    message = pubsub.get_message(timeout=timeout)
    return json.loads(message["data"]) if message else None


def test_publish_sends_event_id_and_time_on_the_users_channel(listener):
    user_id, object_id = uuid.uuid4(), uuid.uuid4()
    listener.subscribe(user_channel(user_id))
    listener.get_message(timeout=1)

    publish(user_id=user_id, event="memory.created", object_id=object_id)

    message = next_message(listener)
    assert set(message) == {"event", "id", "at"}
    assert (message["event"], message["id"]) == ("memory.created", str(object_id))
    assert user_channel(user_id) == f"tanka:user:{user_id}"


def test_publish_with_redis_down_is_logged_not_raised(redis_down, caplog):
    publish(user_id=uuid.uuid4(), event="job.updated", object_id=uuid.uuid4())
    assert "not published" in caplog.text


@pytest.mark.django_db
def test_publish_on_commit_waits_for_the_commit(listener, django_capture_on_commit_callbacks):
    user_id = uuid.uuid4()
    listener.subscribe(user_channel(user_id))
    listener.get_message(timeout=1)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        publish_on_commit(user_id=user_id, event="memory.deleted", object_id=1)
    assert next_message(listener, timeout=0.2) is None

    callbacks[0]()
    assert next_message(listener)["event"] == "memory.deleted"


def test_events_of_a_batch_leave_together_at_its_end_in_order(listener):
    user_id = uuid.uuid4()
    listener.subscribe(user_channel(user_id))
    listener.get_message(timeout=1)

    with batched():
        publish(user_id=user_id, event="memory.created", object_id=1)
        publish(user_id=user_id, event="memory.updated", object_id=1)
        assert next_message(listener, timeout=0.2) is None

    assert [next_message(listener)["event"] for _ in range(2)] == [
        "memory.created",
        "memory.updated",
    ]


def test_a_round_trip_made_anyway_takes_the_waiting_events(listener):
    user_id = uuid.uuid4()
    listener.subscribe(user_channel(user_id))
    listener.get_message(timeout=1)
    client = redis.Redis.from_url(settings.REDIS_QUEUE_URL)

    with batched():
        publish(user_id=user_id, event="job.updated", object_id=7)
        with client.pipeline() as pipeline:
            pipeline.set("tanka:test:trip", 1)
            add_batched(pipeline)
            pipeline.execute()
        # Sent with the pipeline, not again at the end of the batch.
        assert next_message(listener)["id"] == "7"
    assert next_message(listener, timeout=0.2) is None
    client.close()


def test_a_batch_with_redis_down_loses_its_events_and_nothing_else(redis_down, caplog):
    with batched():
        publish(user_id=uuid.uuid4(), event="job.updated", object_id=1)
    assert "1 event(s) or cache invalidation(s) not published" in caplog.text


def test_publish_appends_to_the_users_stream_each_entry_naming_the_one_before(redis_queue):
    user_id = uuid.uuid4()
    ids = [publish(user_id=user_id, event="memory.updated", object_id=index) for index in range(3)]

    entries = redis_queue.xrange(user_stream(user_id))
    assert [entry_id.decode() for entry_id, _ in entries] == ids
    assert [fields[b"prev"].decode() for _, fields in entries] == ["0-0", *ids[:2]]
    first = entries[0][1]
    assert first[b"event"] == b"memory.updated"
    assert json.loads(first[b"data"])["id"] == "0"
    assert 0 < redis_queue.ttl(user_stream(user_id)) <= STREAM_TTL


def test_a_users_stream_keeps_at_least_the_last_thousand_events(redis_queue):
    user_id = uuid.uuid4()
    ids = [
        publish(user_id=user_id, event="job.updated", object_id=index)
        for index in range(STREAM_KEEP + 300)
    ]
    kept = [entry_id.decode() for entry_id, _ in redis_queue.xrange(user_stream(user_id))]
    assert STREAM_KEEP <= len(kept) < len(ids)
    assert kept == ids[-len(kept) :]


def test_publish_with_redis_down_returns_no_id(redis_down):
    assert publish(user_id=uuid.uuid4(), event="job.updated", object_id=1) is None
