from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.memories.models import Memory
from apps.memories.services import memory_create

URL = "/api/v1/memories"


@pytest.fixture
def owner(user) -> Any:
    return user


@pytest.fixture
def stranger(other_user) -> Any:
    return other_user


@pytest.fixture
def owner_client(auth_client) -> APIClient:
    return auth_client


@pytest.fixture
def make_memory(owner) -> Callable[..., Memory]:
    def make(content: str = "a memory", user: Any = None, **fields: Any) -> Memory:
        return memory_create(owner=user or owner, content=content, **fields)

    return make
