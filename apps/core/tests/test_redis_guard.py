"""A Redis that hangs (accepts connections, never answers) costs a request at most one
timeout: after a failure the rest of the request skips Redis, and so does every request of the
process until `REDIS_RETRY_AFTER` has passed; then one call tries Redis again."""

import pytest
import redis

from apps.core.redis_clients import breaker, queue_redis, request_finished, request_started
from apps.memories.models import Memory

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/api/v1/memories"


@pytest.fixture
def clock(monkeypatch):
    """The breaker's clock, moved by hand: `clock[0] += seconds`."""
    now = [1000.0]
    monkeypatch.setattr(breaker, "_clock", lambda: now[0])
    return now


def test_a_memory_create_waits_on_a_hung_redis_once(auth_client, user, redis_hung):
    before = redis_hung.accepted

    response = auth_client.post(LIST, {"content": "kept"}, format="json")

    assert response.status_code == 201, response.content
    # The throttle, the token's user, the embedding job, the cache invalidation and the events
    # all wanted Redis; only the first waited.
    assert redis_hung.accepted - before == 1
    assert Memory.objects.get(owner=user).content == "kept"


def test_after_a_failure_the_process_skips_redis_then_tries_it_again(
    auth_client, redis_hung, clock, settings
):
    first = auth_client.get(LIST)
    assert (first.status_code, first["X-Cache"]) == (200, "BYPASS")
    assert redis_hung.accepted == 1

    for _ in range(3):
        assert auth_client.get(LIST).status_code == 200
    assert redis_hung.accepted == 1

    clock[0] += settings.REDIS_RETRY_AFTER
    assert auth_client.get(LIST).status_code == 200
    assert redis_hung.accepted == 2


def test_one_request_waits_once_even_when_the_breaker_would_let_a_call_try(
    redis_hung, clock, settings
):
    token = request_started()
    try:
        with pytest.raises(redis.TimeoutError):
            queue_redis().ping()
        clock[0] += settings.REDIS_RETRY_AFTER
        with pytest.raises(redis.ConnectionError, match="timed out during this request"):
            queue_redis().ping()
        assert redis_hung.accepted == 1
    finally:
        request_finished(token)

    with pytest.raises(redis.TimeoutError):
        queue_redis().ping()
    assert redis_hung.accepted == 2


def test_a_redis_that_answers_again_closes_the_breaker(request, settings, clock):
    working = settings.REDIS_QUEUE_URL
    hole = request.getfixturevalue("redis_hung")
    with pytest.raises(redis.TimeoutError):
        queue_redis().ping()

    settings.REDIS_QUEUE_URL = working
    with pytest.raises(redis.ConnectionError, match="timed out moments ago"):
        queue_redis().ping()
    clock[0] += settings.REDIS_RETRY_AFTER
    assert queue_redis().ping() is True

    settings.REDIS_QUEUE_URL = hole.url
    with pytest.raises(redis.TimeoutError):
        queue_redis().ping()
    assert hole.accepted == 2


def test_a_stopped_redis_trips_nothing_and_is_used_again_at_once(request, settings):
    working = settings.REDIS_QUEUE_URL
    request.getfixturevalue("redis_down")
    with pytest.raises(redis.ConnectionError, match="refused"):
        queue_redis().ping()

    settings.REDIS_QUEUE_URL = working
    assert queue_redis().ping() is True
