import pytest

# The system tests' worker processes and their shared database (apps/jobs/tests/workers.py).
from apps.jobs.tests.workers import owner, start_worker, system_database, system_db  # noqa: F401


@pytest.fixture
def owner_client(api_client, user):
    api_client.force_authenticate(user)
    return api_client
