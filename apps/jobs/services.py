"""Writes on jobs: start the test job, cancel, retry. Each change is a compare-and-set on the
row's status, so it either happens exactly as asked or is a 409 naming the current status."""

from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.core.exceptions import ConflictError
from apps.jobs import engine
from apps.jobs.models import Job, JobStatus
from apps.jobs.tasks import self_test


def job_test_start(
    *,
    owner: Any,
    duration: float = 0,
    fail: bool = False,
    queue: str = "default",
    payload: dict[str, Any] | None = None,
) -> Job:
    return engine.enqueue(
        self_test.using(queue=queue),
        owner=owner,
        duration=duration,
        fail=fail,
        payload=payload or {},
    )


def job_cancel(*, job: Job) -> Job:
    """Cancel a pending job and take it off its queue; a job in any other state is a 409."""
    now = timezone.now()
    with transaction.atomic():
        cancelled = Job.objects.filter(pk=job.pk, status=JobStatus.PENDING).update(
            status=JobStatus.CANCELLED, completed_at=now, updated_at=now
        )
        job.refresh_from_db()
        if not cancelled:
            raise ConflictError(f"Only a pending job can be cancelled; this job is {job.status}.")
        engine.announce(job)
        transaction.on_commit(partial(engine.remove_from_queue, job.id))
    return job


def job_retry(*, job: Job) -> Job:
    """Queue a failed job again, keeping its attempts; a job in any other state is a 409.

    Redis being down leaves it `failed` (with that reason) and raises a 503.
    """
    try:
        task_ = engine.get_task(job.name)
    except LookupError:
        raise ConflictError(f"This job's task {job.name!r} no longer exists.") from None
    now = timezone.now()
    with transaction.atomic():
        reopened = Job.objects.filter(pk=job.pk, status=JobStatus.FAILED).update(
            status=JobStatus.PENDING, completed_at=None, progress=0, updated_at=now
        )
        job.refresh_from_db()
        if not reopened:
            raise ConflictError(f"Only a failed job can be retried; this job is {job.status}.")
        engine.announce(job)
        transaction.on_commit(partial(engine.push, job, task_))
    return job
