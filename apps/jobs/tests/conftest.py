import pytest


@pytest.fixture
def owner_client(api_client, user):
    api_client.force_authenticate(user)
    return api_client
