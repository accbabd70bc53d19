"""Reads of jobs, always for one owner: another user's job does not exist for the caller."""

import functools
import uuid
from typing import Any, NamedTuple

from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import QuerySet

from apps.jobs.models import Job


def job_list(*, user: Any) -> QuerySet[Job]:
    if not getattr(user, "is_authenticated", False):
        return Job.objects.none()
    return Job.objects.filter(owner=user).order_by("-created_at", "-id")


# What the runner needs of a job to run one attempt of it.
_RUN_FIELDS = (
    "id", "name", "queue", "status", "args", "kwargs", "attempts", "max_retries", "timeout",
    "progress", "owner_id", "request_id",
)  # fmt: skip


class _CompiledRead(NamedTuple):
    sql: str
    compiler: Any
    converters: dict[int, Any]
    names: list[str]


@functools.cache
def _run_read() -> _CompiledRead:
    """The runner's read, compiled by the ORM once per process (with its value converters),
    then run as plain SQL: it runs once per job, where compiling it each time would cost more
    than the query."""
    queryset = Job.objects.filter(pk=uuid.UUID(int=0)).only(*_RUN_FIELDS)
    compiler = queryset.query.get_compiler(DEFAULT_DB_ALIAS)
    sql, _ = compiler.as_sql()
    columns = [column for column, _, _ in compiler.select]
    return _CompiledRead(
        sql, compiler, compiler.get_converters(columns), [c.target.attname for c in columns]
    )


def job_for_run(job_id: Any) -> Job | None:
    """The job a worker is about to run, with only the fields the run needs."""
    read = _run_read()
    with connection.cursor() as cursor:
        cursor.execute(read.sql, [Job._meta.pk.get_db_prep_value(job_id, connection)])
        rows = cursor.fetchall()
    if not rows:
        return None
    if read.converters:
        rows = list(read.compiler.apply_converters(rows, read.converters))
    return Job.from_db(DEFAULT_DB_ALIAS, read.names, rows[0])
