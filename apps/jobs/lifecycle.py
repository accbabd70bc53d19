"""Every change of a job's status, in one place.

A job's status is changed only by the functions below. Each is one compare-and-set statement
(`UPDATE ... WHERE status IN (...)`, and the attempt for changes made by an attempt) that
also stamps `updated_at` and `completed_at` and, when it took effect, announces the change to
the owner's subscribers once it commits. A worker, the reconciliation and an API call that
race on one job therefore never undo each other: the loser's statement matches no row and
changes nothing.

    scheduled --release--> pending
    pending --start--> running --finish--> completed | failed | pending (RQ retries it)
    pending --finish_unclaimed--> completed | failed | pending (a short attempt, in one step)
    running --request_cancel--> running (cancel_requested) --interrupt--> cancelled
    running --interrupt / recover--> pending | failed | cancelled
    scheduled | pending --cancel--> cancelled          failed --reopen--> pending
    pending --fail_unqueued / give_up--> failed

A job asked to stop while running (`cancel_requested`) ends `cancelled` however its attempt
is interrupted: by the stop itself, its worker's shutdown or death.
"""

import functools
from collections.abc import Collection
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import connection
from django.utils import timezone

from apps.core.db import statement_cursor
from apps.core.pubsub import publish_on_commit
from apps.jobs.models import FINAL_STATUSES, Job, JobStatus

ERROR_MAX_LENGTH = 500


def one_line(text: str) -> str:
    """Collapse a message to one short line for the owner."""
    line = " ".join(text.split())
    if len(line) > ERROR_MAX_LENGTH:
        line = line[: ERROR_MAX_LENGTH - 3] + "..."
    return line


def announce(job: Job) -> None:
    """Tell the owner's subscribers the job changed, once the change commits."""
    if job.owner_id is not None:
        publish_on_commit(user_id=job.owner_id, event="job.updated", object_id=job.id)


# In a change, "one more attempt": `attempts = attempts + 1` in the statement itself.
NEXT_ATTEMPT = object()


STOPPED_REASON = "stopped on request while running"


@functools.cache
def _update_sql(
    vendor: str, columns: tuple[str, ...], sources: int, by_attempt: bool, where: tuple[str, ...]
) -> str:
    """The statement of one shape of transition, built once per process.

    Written out rather than compiled by the ORM on every call: these statements run twice
    per job on the engine's hot path, where the ORM's compilation and row building cost
    several times the statement itself (bench/RESULTS.md). `RETURNING` (PostgreSQL, and
    SQLite 3.35+) hands back what the caller cannot know: the owner and the attempt count.
    """
    quote = connection.ops.quote_name
    assignments = ", ".join(
        f"{quote(column[1:])} = {quote(column[1:])} + 1"
        if column.startswith("+")
        else f"{quote(column)} = %s"
        for column in columns
    )
    statuses = ", ".join(["%s"] * sources)
    attempt = f" AND {quote('attempts')} = %s" if by_attempt else ""
    attempt += "".join(f" AND {quote(column)} = %s" for column in where)
    return (
        f"UPDATE {quote(Job._meta.db_table)} SET {assignments} "
        f"WHERE {quote('id')} = %s AND {quote('status')} IN ({statuses}){attempt} "
        f"RETURNING {quote('owner_id')}, {quote('attempts')}"
    )


def _move(
    job: Job,
    *,
    source: Collection[str],
    target: str | None,
    attempt: int | None = None,
    where: dict[str, Any] | None = None,
    **changes: Any,
) -> Job | None:
    """The one compare-and-set: the job, or None when it was not in `source` (or, with
    `attempt`, has moved on to another attempt; or differs from `where`). The job passed in
    takes the new values, so its holder sees it as it now is."""
    now = timezone.now()
    changes["updated_at"] = now
    if target is not None:
        changes["status"] = target
        changes.setdefault("completed_at", now if target in FINAL_STATUSES else None)
    columns, params = [], []
    for name, value in changes.items():
        field = Job._meta.get_field(name)
        if value is NEXT_ATTEMPT:
            columns.append(f"+{field.column}")
        else:
            columns.append(field.column)
            params.append(field.get_db_prep_save(value, connection))
    params.append(Job._meta.pk.get_db_prep_value(job.pk, connection))
    params.extend(source)
    if attempt is not None:
        params.append(attempt)
    where = where or {}
    for name, value in where.items():
        params.append(Job._meta.get_field(name).get_db_prep_save(value, connection))
    where_columns = tuple(Job._meta.get_field(name).column for name in where)
    sql = _update_sql(
        connection.vendor, tuple(columns), len(source), attempt is not None, where_columns
    )
    with statement_cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    owner_id, attempts = row
    for name, value in changes.items():
        if value is not NEXT_ATTEMPT:
            setattr(job, Job._meta.get_field(name).attname, value)
    job.owner_id = owner_id if owner_id is None or isinstance(owner_id, UUID) else UUID(owner_id)
    job.attempts = attempts
    announce(job)
    return job


def start(job: Job | Any, *, worker_name: str, started_at: datetime | None = None) -> Job | None:
    """Claim the job for a new attempt; None when it must not run (cancelled, finished, gone).

    A row still `running` is claimed too: that is RQ retrying an attempt whose worker died
    before the reconciliation noticed.
    """
    return _move(
        job,
        source=(JobStatus.PENDING, JobStatus.RUNNING),
        target=JobStatus.RUNNING,
        attempts=NEXT_ATTEMPT,
        started_at=started_at or timezone.now(),
        progress=0,
        worker_name=worker_name,
    )


def finish(job: Job, status: str, **changes: Any) -> Job | None:
    """Record how the job's current attempt ended, unless the row moved on without it.

    `status` is `completed`, `failed`, or `pending` when RQ will retry the job.
    """
    return _move(job, source=(JobStatus.RUNNING,), target=status, attempt=job.attempts, **changes)


def finish_unclaimed(
    job: Job, status: str, *, worker_name: str, started_at: datetime, **changes: Any
) -> Job | None:
    """Record a whole attempt that never marked its row `running` (a short job, see
    `apps/jobs/runner.py`): start and outcome in one statement, from `pending` as it was read."""
    return _move(
        job,
        source=(JobStatus.PENDING,),
        target=status,
        attempt=job.attempts,
        attempts=NEXT_ATTEMPT,
        started_at=started_at,
        worker_name=worker_name,
        **changes,
    )


def interrupt(job_id: Any, *, outcome: str, reason: str) -> Job | None:
    """An attempt ended without the runner: its worker stopped, an operator stopped it, or it
    overran its hard limit. `outcome` is `pending` when RQ retries it; a job asked to stop
    ends `cancelled` whatever interrupted it."""
    stopped = _move(
        Job(pk=job_id),
        source=(JobStatus.RUNNING,),
        target=JobStatus.CANCELLED,
        where={"cancel_requested": True},
        error=STOPPED_REASON,
    )
    if stopped is not None:
        return stopped
    return _move(
        Job(pk=job_id), source=(JobStatus.RUNNING,), target=outcome, error=one_line(reason)
    )


def request_cancel(job: Job) -> Job | None:
    """Ask a running job to stop; its worker records it `cancelled` when the task stops."""
    return _move(job, source=(JobStatus.RUNNING,), target=None, cancel_requested=True)


def recover(job: Job, *, retry: bool, reason: str) -> Job | None:
    """The reconciliation found the attempt's worker dead or no longer running it. A row
    still `pending` is an attempt that never marked it `running` (a short job): it counts."""
    unclaimed = job.status == JobStatus.PENDING
    if job.cancel_requested:
        target, error = JobStatus.CANCELLED, f"{STOPPED_REASON}; {reason}"
    else:
        target = JobStatus.PENDING if retry else JobStatus.FAILED
        error = reason + ("; retrying" if retry else "")
    return _move(
        job,
        source=(job.status if unclaimed else JobStatus.RUNNING,),
        target=target,
        attempt=job.attempts,
        error=one_line(error),
        **({"attempts": NEXT_ATTEMPT} if unclaimed else {}),
    )


def give_up(job: Job, *, reason: str) -> Job | None:
    """A pending job the task queue will never run."""
    return _move(job, source=(JobStatus.PENDING,), target=JobStatus.FAILED, error=reason)


def fail_unqueued(job: Job, *, reason: str) -> Job | None:
    """A pending job that could not be handed to the queue; it does not keep `enqueued_at`."""
    return _move(
        job, source=(JobStatus.PENDING,), target=JobStatus.FAILED, error=reason, enqueued_at=None
    )


def cancel(job: Job) -> Job | None:
    """A scheduled or pending job is cancelled (it may still sit in its queue; the runner
    skips it)."""
    return _move(job, source=(JobStatus.SCHEDULED, JobStatus.PENDING), target=JobStatus.CANCELLED)


def release(job: Job) -> Job | None:
    """A scheduled job's time has come: it is pending, and handed to its queue now."""
    return _move(
        job, source=(JobStatus.SCHEDULED,), target=JobStatus.PENDING, enqueued_at=timezone.now()
    )


def reopen(job: Job, *, retries: int) -> Job | None:
    """A failed job is pending again, for a manual retry, with `retries` more tries after
    this one (the task's own budget again, counted on from its attempts so far). It is
    stamped as handed over now, so the reconciliation gives the hand-over its full grace
    period before looking at it."""
    return _move(
        job,
        source=(JobStatus.FAILED,),
        target=JobStatus.PENDING,
        attempt=job.attempts,
        progress=0,
        max_retries=job.attempts + retries,
        cancel_requested=False,
        enqueued_at=timezone.now(),
    )


def set_progress(job: Job, percent: int) -> Job | None:
    """A running attempt's progress."""
    return _move(job, source=(JobStatus.RUNNING,), target=None, progress=percent)


def stamp_handed_over(job: Job) -> None:
    """Record when a job was (again) handed to its queue: the reconciliation's clock."""
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(enqueued_at=now, updated_at=now)
    job.enqueued_at = now
