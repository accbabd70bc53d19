from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.memories.models import Memory
from apps.memories.services import memory_create

URL = "/api/v1/memories"


@pytest.fixture
def owner(django_user_model) -> Any:
    return django_user_model.objects.create_user(email="owner@example.com", password="x")


@pytest.fixture
def stranger(django_user_model) -> Any:
    return django_user_model.objects.create_user(email="stranger@example.com", password="x")


@pytest.fixture
def client_for() -> Callable[[Any], APIClient]:
    def make(user: Any) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def owner_client(client_for, owner) -> APIClient:
    return client_for(owner)


@pytest.fixture
def make_memory(owner) -> Callable[..., Memory]:
    def make(content: str = "a memory", user: Any = None, **fields: Any) -> Memory:
        return memory_create(owner=user or owner, content=content, **fields)

    return make
