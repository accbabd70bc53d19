"""Writes on jobs: start the test job, cancel, retry, purge. Each change is a compare-and-set
on the row's status (`apps/jobs/lifecycle.py`), so it either happens exactly as asked or is a
409 naming the current status."""

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from apps.core.exceptions import ConflictError, RateLimitedError
from apps.jobs import engine, lifecycle
from apps.jobs.models import ACTIVE_STATUSES, FINAL_STATUSES, TEST_TASK, Job, JobStatus

logger = logging.getLogger("tanka.jobs")

PURGE_BATCH = 1000


def check_active_cap(*, user: Any) -> None:
    """Refuse (429) a user who already has `JOBS_MAX_ACTIVE_PER_USER` jobs scheduled, pending
    or running. One indexed count, bounded by the cap; none at all when the cap is 0 (off)."""
    cap = settings.JOBS_MAX_ACTIVE_PER_USER
    if cap <= 0:
        return
    active = Job.objects.filter(owner=user, status__in=ACTIVE_STATUSES).values("pk")[:cap].count()
    if active >= cap:
        raise RateLimitedError(
            f"You have {cap} jobs waiting or running, the most allowed; "
            "wait for some to finish, or cancel some."
        )


@contextlib.contextmanager
def within_active_cap(*, user: Any) -> Iterator[None]:
    """The cap's count and the job it lets in, as one step per user: without it, requests
    arriving together each count the same jobs and all get in. The user's row is locked
    until the job's row commits (PostgreSQL); SQLite's write transactions already take
    turns (tanka/settings.py, `IMMEDIATE`). Costs nothing when the cap is off."""
    if settings.JOBS_MAX_ACTIVE_PER_USER <= 0 or user is None:
        yield
        return
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).values("pk").first()
        check_active_cap(user=user)
        yield


def job_test_start(
    *,
    owner: Any,
    duration: float = 0,
    fail: bool = False,
    queue: str = "default",
    payload: dict[str, Any] | None = None,
    delay: float = 0,
) -> Job:
    """The self-test job, within the caller's active-job cap (429 past it)."""
    with within_active_cap(user=owner):
        return engine.enqueue(
            engine.get_task(TEST_TASK).using(queue=queue),
            owner=owner,
            delay=delay or None,
            duration=duration,
            fail=fail,
            payload=payload or {},
        )


def _conflict(job: Job, only: str) -> ConflictError:
    """The 409 of a transition that did not apply, naming the job's status now."""
    job.refresh_from_db(fields=["status"])
    return ConflictError(f"{only}; this job is {job.status}.")


def job_cancel(*, job: Job) -> Job:
    """Cancel a job that has not ended.

    A scheduled or pending job is `cancelled` at once and leaves its queue. A running one is
    asked to stop (`cancel_requested`): its worker interrupts the task and records it
    `cancelled`, then takes its next job. A finished job is a 409.
    """
    with transaction.atomic():
        if lifecycle.cancel(job) is not None:
            transaction.on_commit(lambda: engine.remove_from_queue(job.id))
            return job
        if lifecycle.request_cancel(job) is not None:
            transaction.on_commit(lambda: engine.stop_running(job.id))
            return job
        # It may have started (or been released) between the two statements.
        if lifecycle.cancel(job) is not None:
            transaction.on_commit(lambda: engine.remove_from_queue(job.id))
            return job
        raise _conflict(job, "Only a job that has not ended can be cancelled")


def job_retry(*, job: Job, capped: bool = False) -> Job:
    """Queue a failed job again with its task's retries renewed (its attempts go on
    counting); a job in any other state is a 409. `capped` (the API's retry) keeps it within
    its owner's active-job cap (429 past it); an operator's requeue is not capped.

    Redis being down leaves it `failed` (with that reason) and raises a 503.
    """
    try:
        task_ = engine.get_task(job.name)
    except LookupError:
        raise ConflictError(f"This job's task {job.name!r} no longer exists.") from None
    cap = within_active_cap(user=job.owner) if capped else contextlib.nullcontext()
    with cap, transaction.atomic():
        if lifecycle.reopen(job, retries=task_.retries) is None:
            raise _conflict(job, "Only a failed job can be retried")
        transaction.on_commit(lambda: engine.push(job, task_))
    return job


@dataclass(frozen=True)
class PurgeResult:
    deleted: int
    by_status: dict[str, int]
    dry_run: bool


def keep_days() -> dict[str, int]:
    """How many days each final status is kept (0: for ever)."""
    return {
        JobStatus.COMPLETED: settings.JOBS_KEEP_COMPLETED_DAYS,
        JobStatus.FAILED: settings.JOBS_KEEP_FAILED_DAYS,
        JobStatus.CANCELLED: settings.JOBS_KEEP_CANCELLED_DAYS,
    }


def jobs_purge(*, older_than_days: int | None = None, dry_run: bool = False) -> PurgeResult:
    """Delete finished jobs older than their status's retention, in batches.

    Only rows in a final status are ever deleted: the delete itself says so, so a job
    retried by hand between the read of a batch and its deletion is kept.
    """
    now = timezone.now()
    days = keep_days()
    if older_than_days is not None:
        days = dict.fromkeys(days, older_than_days)
    by_status: dict[str, int] = {}
    for status, keep in days.items():
        if keep <= 0 and older_than_days is None:
            continue
        cutoff = now - timedelta(days=keep)
        old = Job.objects.filter(status=status, completed_at__lt=cutoff)
        if dry_run:
            by_status[status] = old.count()
            continue
        deleted = 0
        while True:
            batch = list(old.order_by("completed_at").values_list("pk", flat=True)[:PURGE_BATCH])
            if not batch:
                break
            count, _ = Job.objects.filter(pk__in=batch, status__in=FINAL_STATUSES).delete()
            deleted += count
            if len(batch) < PURGE_BATCH:
                break
        by_status[status] = deleted
    total = sum(by_status.values())
    if total and not dry_run:
        logger.info("purged %d finished jobs: %s", total, by_status)
    return PurgeResult(deleted=total, by_status=by_status, dry_run=dry_run)
