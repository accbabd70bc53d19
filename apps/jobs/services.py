"""Writes on jobs: start the test job, cancel, retry. Each change is a compare-and-set on the
row's status, so it either happens exactly as asked or is a 409 naming the current status."""

from typing import Any

from django.db import transaction

from apps.core.exceptions import ConflictError
from apps.jobs import engine, lifecycle
from apps.jobs.models import Job
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


def _conflict(job: Job, only: str) -> ConflictError:
    """The 409 of a transition that did not apply, naming the job's status now."""
    job.refresh_from_db(fields=["status"])
    return ConflictError(f"{only}; this job is {job.status}.")


def job_cancel(*, job: Job) -> Job:
    """Cancel a pending job and take it off its queue; a job in any other state is a 409."""
    with transaction.atomic():
        if lifecycle.cancel(job) is None:
            raise _conflict(job, "Only a pending job can be cancelled")
        transaction.on_commit(lambda: engine.remove_from_queue(job.id))
    return job


def job_retry(*, job: Job) -> Job:
    """Queue a failed job again, keeping its attempts; a job in any other state is a 409.

    Redis being down leaves it `failed` (with that reason) and raises a 503.
    """
    try:
        task_ = engine.get_task(job.name)
    except LookupError:
        raise ConflictError(f"This job's task {job.name!r} no longer exists.") from None
    with transaction.atomic():
        if lifecycle.reopen(job) is None:
            raise _conflict(job, "Only a failed job can be retried")
        transaction.on_commit(lambda: engine.push(job, task_))
    return job
