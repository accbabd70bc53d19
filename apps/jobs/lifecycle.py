"""Every change of a job's status, in one place.

A job's status is changed only by the functions below. Each is one compare-and-set statement
(`UPDATE ... WHERE status IN (...)`, and the attempt for changes made by an attempt) that
also stamps `updated_at` and `completed_at` and, when it took effect, announces the change to
the owner's subscribers once it commits. A worker, the reconciliation and an API call that
race on one job therefore never undo each other: the loser's statement matches no row and
changes nothing.

    pending --start--> running --finish--> completed | failed | pending (RQ retries it)
    running --interrupt / recover--> pending | failed | cancelled
    pending --cancel--> cancelled          failed --reopen--> pending
    pending --fail_unqueued / give_up--> failed
"""

from collections.abc import Collection
from typing import Any

from django.db import models
from django.db.models import F
from django.db.models.sql import UpdateQuery
from django.utils import timezone

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


def _update_returning(queryset: models.QuerySet[Job], values: dict[str, Any]) -> Job | None:
    """`queryset.update(**values)` that hands back the row it changed, in the same statement.

    PostgreSQL and SQLite (3.35+) both have `UPDATE ... RETURNING`; Django's `update()`
    returns only a count, so a caller that needs the row would otherwise read it again.
    """
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    sql, params = query.get_compiler(queryset.db).as_sql()
    rows = list(Job.objects.using(queryset.db).raw(f"{sql} RETURNING *", params))
    return rows[0] if rows else None


def _move(
    job: Job | Any,
    *,
    source: Collection[str],
    target: str | None,
    attempt: int | None = None,
    **changes: Any,
) -> Job | None:
    """The one compare-and-set: the changed row, or None when the job was not in `source`
    (or, with `attempt`, has moved on to another attempt). A `Job` passed in takes the
    changed row's values, so its holder sees the job as it now is."""
    now = timezone.now()
    changes["updated_at"] = now
    if target is not None:
        changes["status"] = target
        changes.setdefault("completed_at", now if target in FINAL_STATUSES else None)
    job_id = job.pk if isinstance(job, Job) else job
    queryset = Job.objects.filter(pk=job_id, status__in=list(source))
    if attempt is not None:
        queryset = queryset.filter(attempts=attempt)
    changed = _update_returning(queryset, changes)
    if changed is None:
        return None
    if isinstance(job, Job):
        for field in changed._meta.concrete_fields:
            setattr(job, field.attname, getattr(changed, field.attname))
    announce(changed)
    return changed


def start(job_id: Any, *, worker_name: str) -> Job | None:
    """Claim the job for a new attempt; None when it must not run (cancelled, finished, gone).

    A row still `running` is claimed too: that is RQ retrying an attempt whose worker died
    before the reconciliation noticed.
    """
    return _move(
        job_id,
        source=(JobStatus.PENDING, JobStatus.RUNNING),
        target=JobStatus.RUNNING,
        attempts=F("attempts") + 1,
        started_at=timezone.now(),
        progress=0,
        worker_name=worker_name,
    )


def finish(job: Job, status: str, **changes: Any) -> Job | None:
    """Record how the job's current attempt ended, unless the row moved on without it.

    `status` is `completed`, `failed`, or `pending` when RQ will retry the job.
    """
    return _move(job, source=(JobStatus.RUNNING,), target=status, attempt=job.attempts, **changes)


def interrupt(job_id: Any, *, outcome: str, reason: str) -> Job | None:
    """An attempt ended without the runner: its worker stopped, an operator stopped it, or it
    overran its hard limit. `outcome` is `pending` when RQ retries it."""
    return _move(job_id, source=(JobStatus.RUNNING,), target=outcome, error=one_line(reason))


def recover(job: Job, *, retry: bool, reason: str) -> Job | None:
    """The reconciliation found the attempt's worker dead or no longer running it."""
    return _move(
        job,
        source=(JobStatus.RUNNING,),
        target=JobStatus.PENDING if retry else JobStatus.FAILED,
        attempt=job.attempts,
        error=one_line(reason + ("; retrying" if retry else "")),
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
    """A pending job is cancelled (it may still sit in its queue; the runner skips it)."""
    return _move(job, source=(JobStatus.PENDING,), target=JobStatus.CANCELLED)


def reopen(job: Job) -> Job | None:
    """A failed job is pending again, for a manual retry; it is stamped as handed over now,
    so the reconciliation gives the hand-over its full grace period before looking at it."""
    return _move(
        job,
        source=(JobStatus.FAILED,),
        target=JobStatus.PENDING,
        progress=0,
        enqueued_at=timezone.now(),
    )


def set_progress(job_id: Any, percent: int) -> Job | None:
    """A running attempt's progress; announced only when it changed."""
    now = timezone.now()
    queryset = Job.objects.filter(pk=job_id, status=JobStatus.RUNNING).exclude(progress=percent)
    job = _update_returning(queryset, {"progress": percent, "updated_at": now})
    if job is not None:
        announce(job)
    return job


def stamp_handed_over(job: Job) -> None:
    """Record when a job was (again) handed to its queue: the reconciliation's clock."""
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(enqueued_at=now, updated_at=now)
    job.enqueued_at = now
