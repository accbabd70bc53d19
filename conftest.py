"""Fixtures shared by every app's tests."""

from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def _clean_redis() -> Iterator[None]:
    """Every test starts with empty queue and cache databases."""
    for url in (settings.REDIS_QUEUE_URL, settings.REDIS_CACHE_URL):
        client = redis.Redis.from_url(url)
        client.flushdb()
        client.close()
    yield


@pytest.fixture
def redis_queue() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.REDIS_QUEUE_URL)
    yield client
    client.close()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def redis_down(settings) -> None:
    """Point every Redis client at a port nobody listens on: Redis is down for this test."""
    dead = "redis://127.0.0.1:9/0"
    settings.REDIS_CACHE_URL = dead
    settings.REDIS_QUEUE_URL = dead
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": dead}}
    settings.RQ_QUEUES = {name: {**conf, "URL": dead} for name, conf in settings.RQ_QUEUES.items()}
