"""A cache invalidation inside a request's batch leaves with the batch's round trip and lands
in the cache's database, not the queue's; inside a job's batch, which leaves only after the
job's row says it is done, it is made at once."""

import uuid

import pytest
import redis
from django.conf import settings

from apps.core.cache import _generation_key, invalidate
from apps.core.pubsub import add_batched, batched


@pytest.fixture
def clients():
    cache = redis.Redis.from_url(settings.REDIS_CACHE_URL)
    queue = redis.Redis.from_url(settings.REDIS_QUEUE_URL)
    yield cache, queue
    cache.close()
    queue.close()


def test_outside_a_batch_the_generation_is_bumped_at_once(clients):
    cache, queue = clients
    space = f"test:{uuid.uuid4()}"

    invalidate(space)

    assert cache.get(_generation_key(space)) == b"1"
    assert queue.get(_generation_key(space)) is None


def test_inside_a_batch_the_bump_waits_for_the_batch_and_then_lands_in_the_cache_db(clients):
    cache, queue = clients
    space = f"test:{uuid.uuid4()}"

    with batched(writes=True):
        invalidate(space)
        invalidate(space)
        assert cache.get(_generation_key(space)) is None
    assert cache.get(_generation_key(space)) == b"2"
    assert queue.get(_generation_key(space)) is None


def test_a_round_trip_made_anyway_takes_the_waiting_bump(clients):
    cache, queue = clients
    space = f"test:{uuid.uuid4()}"

    with batched(writes=True):
        invalidate(space)
        with queue.pipeline() as pipeline:
            pipeline.set("tanka:test:trip", 1)
            add_batched(pipeline)
            pipeline.execute()
        assert cache.get(_generation_key(space)) == b"1"
        # The pipeline's own commands stayed on the queue's database.
        assert queue.get("tanka:test:trip") == b"1" and cache.get("tanka:test:trip") is None
    assert cache.get(_generation_key(space)) == b"1"


def test_inside_a_jobs_batch_the_bump_is_made_at_once(clients):
    cache, _ = clients
    space = f"test:{uuid.uuid4()}"

    with batched():
        invalidate(space)
        assert cache.get(_generation_key(space)) == b"1"
    assert cache.get(_generation_key(space)) == b"1"
