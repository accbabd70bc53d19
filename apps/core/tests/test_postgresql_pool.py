"""The api server's pool (apps/core/postgresql) hands out no connection the server closed:
after a database restart no request fails on a connection of before it."""

from collections.abc import Iterator

import psycopg
import pytest
from django.db import connections

from apps.core.postgresql.base import DatabaseWrapper

pytestmark = pytest.mark.django_db


@pytest.fixture
def pooled() -> Iterator[DatabaseWrapper]:
    """A pooled connection to the test database, as the api server's settings make one."""
    default = connections["default"]
    if default.vendor != "postgresql":
        pytest.skip("the pool is PostgreSQL's")
    options = {**default.settings_dict["OPTIONS"], "pool": {"min_size": 1, "max_size": 1}}
    settings_dict = {
        **default.settings_dict,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "OPTIONS": options,
    }
    wrapper = DatabaseWrapper(settings_dict, alias="pooled")
    try:
        yield wrapper
    finally:
        wrapper.close()
        wrapper.close_pool()


def backend_pid(wrapper: DatabaseWrapper) -> int:
    """The server process of the connection `wrapper` draws, given back to the pool after."""
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]
    finally:
        wrapper.close()


def terminate(wrapper: DatabaseWrapper, pid: int) -> None:
    with psycopg.connect(**wrapper.get_connection_params(), autocommit=True) as admin:
        # With a timeout, it returns once the server process has exited.
        assert admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,)).fetchone()[0]


def test_a_pooled_connection_the_server_closed_is_replaced_not_handed_out(pooled):
    pid = backend_pid(pooled)
    terminate(pooled, pid)

    assert backend_pid(pooled) != pid


def test_a_sound_pooled_connection_is_used_again(pooled):
    assert backend_pid(pooled) == backend_pid(pooled)
