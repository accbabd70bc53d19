"""The one runner every job goes through (RQ's job function for all tasks).

It marks the row `running`, runs the task, and records the outcome: `completed` with the
result, or on an exception `pending` again when RQ will retry it, else `failed` with a one-line
error and the traceback. Every row change is a compare-and-set on (status, attempts), so an
attempt that lost its row (cancelled, or already given up on by the reconciliation) cannot
overwrite what happened since.
"""

import json
import logging
import time
import traceback
from contextlib import nullcontext
from typing import Any

from django.db import transaction
from rq import get_current_job
from rq.timeouts import JobTimeoutException

from apps.core.logging import request_id_var
from apps.jobs import engine, lifecycle
from apps.jobs.lifecycle import one_line
from apps.jobs.models import Job, JobStatus

logger = logging.getLogger("tanka.jobs")


class RowMovedOn(Exception):
    """An atomic task's attempt lost its row (cancelled, or retried meanwhile): its
    transaction is rolled back."""


def describe_error(exc: BaseException, timeout: int) -> str:
    if isinstance(exc, JobTimeoutException):
        return f"timed out after {timeout} s"
    message = str(exc)
    return one_line(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)


def _finish(job: Job, status: str, **changes: Any) -> bool:
    """Record this attempt's outcome unless the row moved on without it."""
    if lifecycle.finish(job, status, **changes) is None:
        logger.warning("job %s %s: the row moved on during the attempt", job.id, job.name)
        return False
    return True


def execute(job_id: str, task_path: str) -> Any:
    """RQ's entry point for every job: run task `job.name` for the row `job_id`."""
    rq_job = get_current_job()
    worker_name = (rq_job.worker_name if rq_job else None) or ""
    job = lifecycle.start(job_id, worker_name=worker_name)
    if job is None:
        status = Job.objects.filter(pk=job_id).values_list("status", flat=True).first()
        logger.info("job %s skipped: its row is %s", job_id, status or "gone")
        return None

    request_token = request_id_var.set(job.request_id or "-")
    job_token = engine.current_job_id.set(str(job.id))
    started = time.monotonic()
    logger.info(
        "job %s %s started on %s (queue %s, attempt %d of %d)",
        job.id, job.name, worker_name or "a worker", job.queue, job.attempts, job.max_retries + 1,
        extra={"job_id": str(job.id), "task": job.name, "attempt": job.attempts},
    )  # fmt: skip
    try:
        try:
            task_ = engine.get_task(job.name, task_path)
        except LookupError as exc:
            # Retrying cannot make an unknown task appear: fail now and let RQ call it done.
            _finish(job, JobStatus.FAILED, error=one_line(str(exc)))
            logger.error("job %s failed: %s", job.id, exc)
            return None
        try:
            with transaction.atomic() if task_.atomic else nullcontext():
                result = task_.func(*job.args, **job.kwargs)
                json.dumps(result, allow_nan=False)
                completed = _finish(
                    job,
                    JobStatus.COMPLETED,
                    result=result,
                    progress=100,
                    error="",
                    traceback="",
                )
                if task_.atomic and not completed:
                    raise RowMovedOn(
                        f"job {job.id}: the row moved on; this attempt's writes undone"
                    )
        except RowMovedOn as exc:
            logger.warning("%s", exc)
            return None
        except Exception as exc:
            _record_failure(job, exc, rq_job, time.monotonic() - started)
            raise
        logger.info(
            "job %s %s completed in %.3f s",
            job.id, job.name, time.monotonic() - started,
            extra={"job_id": str(job.id), "task": job.name, "duration": time.monotonic() - started},
        )  # fmt: skip
        return result
    finally:
        engine.current_job_id.reset(job_token)
        request_id_var.reset(request_token)


def _record_failure(job: Job, exc: Exception, rq_job: Any, elapsed: float) -> None:
    error = describe_error(exc, job.timeout)
    retry = bool(rq_job is not None and rq_job.should_retry)
    _finish(
        job,
        JobStatus.PENDING if retry else JobStatus.FAILED,
        error=error,
        traceback=traceback.format_exc(),
    )
    logger.warning(
        "job %s %s failed after %.3f s (attempt %d of %d%s): %s",
        job.id, job.name, elapsed, job.attempts, job.max_retries + 1,
        ", will retry" if retry else "", error,
        extra={"job_id": str(job.id), "task": job.name, "duration": elapsed},
    )  # fmt: skip
