"""Django's PostgreSQL backend, with a pool that drops connections the server has closed
before it hands them out.

Django gives its psycopg pool either no check or psycopg's own (an empty query: a round
trip on every request). Without one, each pooled connection that a database restart or
`pg_terminate_backend` closed fails the one request that draws it, with a 503: up to
DATABASE_POOL_SIZE failed requests per api server process after the database is back.
A server that closes a connection first writes its reason to the socket, so an idle
connection with something to read is, almost always, one the server closed: only those pay
the round trip (docs/operations.md).

It also hands out cursors whose statements the server prepares (`prepared_cursor`), for the
few statements apps/core/db.py builds once per process.
"""

import select
from typing import Any

from django.db.backends.postgresql import base, operations
from django.db.backends.utils import CursorWrapper
from psycopg import Connection, OperationalError, pq
from psycopg_pool import ConnectionPool


def check_idle_connection(conn: Connection) -> None:
    """Raise if `conn`, idle in the pool, can no longer be used; a poll of its socket, with
    psycopg's own check only when the server has written to it."""
    if conn.closed or conn.pgconn.status != pq.ConnStatus.OK:
        raise OperationalError("the pooled connection is closed")
    poller = select.poll()
    poller.register(conn.pgconn.socket, select.POLLIN)
    if poller.poll(0):
        ConnectionPool.check_connection(conn)


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor: Any, sql: str, params: Any) -> str | None:
        # psycopg keeps no query text for the execution of a prepared statement: without
        # this, DEBUG's query log and captured queries would show None for those.
        executed = super().last_executed_query(cursor, sql, params)
        if executed is None and sql:
            return self.compose_sql(sql, params)
        return executed


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    @property
    def pool(self) -> ConnectionPool | None:
        pool = super().pool
        # Django passes its own choice as `check`; a pool's check is read on each checkout.
        if pool is not None and pool._check is None:
            pool._check = check_idle_connection
        return pool

    def prepared_cursor(self) -> CursorWrapper:
        """A cursor binding its parameters on the server, so that the server parses and plans
        each statement once per connection (psycopg prepares it on first use when
        `prepare_threshold` is 0) and afterwards only executes it. The ORM's own cursors bind
        on the client, where psycopg never prepares: nothing else is prepared.

        On the job path's three statements this halves the server's work on the read and
        takes a fifth off the writes (bench/RESULTS.md, "Prepared statements")."""
        if self.settings_dict["OPTIONS"].get("prepare_threshold") is None:
            # Turned off (DATABASE_PREPARED_STATEMENTS=false): the ORM's own cursor.
            return self.cursor()
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            cursor = base.ServerBindingCursor(self.connection)
            # As Django's create_cursor: the connection's time zone, where it differs.
            loader = self.connection.adapters.get_loader(base.TIMESTAMPTZ_OID, pq.Format.TEXT)
            if self.timezone != loader.timezone:
                base.register_tzloader(self.timezone, cursor)
            return self._prepare_cursor(cursor)
