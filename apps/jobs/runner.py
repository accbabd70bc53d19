"""The one runner every job goes through (RQ's job function for all tasks).

It reads the row, runs the task, and records the outcome: `completed` with the result, or on
an exception `pending` again when RQ will retry it, else `failed` with a one-line error and
the traceback. Every row change goes through `apps/jobs/lifecycle.py`, a compare-and-set on
(status, attempts), so an attempt that lost its row (cancelled, or already given up on by
the reconciliation) cannot overwrite what happened since.

Most jobs are short, so an attempt does not mark its row `running` up front: the row stays
`pending` while the task runs, and its start and outcome are written in one statement at the
end (one commit and one event per job instead of two). An attempt that is still running after
`CLAIM_AFTER` seconds, or that reports progress, marks its row `running` then (the worker's
watchdog thread does it), so a long job is seen running, can be stopped, and is recovered by
the reconciliation if its worker dies. An `atomic` task marks it at once: its claim must be
committed before the task's transaction opens.
"""

import json
import logging
import threading
import time
import traceback
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from rq import get_current_job
from rq.timeouts import JobTimeoutException

from apps.core.logging import request_id_var
from apps.jobs import engine, lifecycle, selectors
from apps.jobs.lifecycle import one_line
from apps.jobs.models import Job, JobStatus

logger = logging.getLogger("tanka.jobs")

# How long an attempt may run before its row is marked `running`.
CLAIM_AFTER = 0.1


class RowMovedOn(Exception):
    """An atomic task's attempt lost its row (cancelled, or retried meanwhile): its
    transaction is rolled back."""


def describe_error(exc: BaseException, timeout: int) -> str:
    if isinstance(exc, JobTimeoutException):
        return f"timed out after {timeout} s"
    message = str(exc)
    return one_line(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)


class Attempt:
    """One try of one job in this worker, and whether its row says so yet.

    The worker's watchdog thread may claim the row (`claim`) while the task runs in the main
    thread; the lock makes the claim and the final write exclusive, so the outcome is always
    written from the state the row is really in.
    """

    def __init__(self, job: Job, worker_name: str) -> None:
        self.job = job
        self.worker_name = worker_name
        self.started_at: datetime = timezone.now()
        self.number = job.attempts + 1
        self._lock = threading.Lock()
        self._claimed = False
        self._over = False

    @property
    def is_final(self) -> bool:
        return self.number > self.job.max_retries

    def claim(self) -> bool:
        """Mark the row `running`, once; False when it is not (it moved on meanwhile, or
        cannot be seen from here). The final write then starts from `pending`, and its
        compare-and-set tells whether the row moved on."""
        with self._lock:
            if not (self._claimed or self._over):
                self._claimed = (
                    lifecycle.start(
                        self.job, worker_name=self.worker_name, started_at=self.started_at
                    )
                    is not None
                )
            return self._claimed

    def finish(self, status: str, **changes: Any) -> bool:
        """Record the outcome unless the row moved on without this attempt."""
        with self._lock:
            self._over = True
            if self._claimed:
                done = lifecycle.finish(self.job, status, **changes)
            else:
                done = lifecycle.finish_unclaimed(
                    self.job,
                    status,
                    worker_name=self.worker_name,
                    started_at=self.started_at,
                    **changes,
                )
        if done is None:
            logger.warning(
                "job %s %s: the row moved on during the attempt", self.job.id, self.job.name
            )
        return done is not None


# The attempt this worker process is running (one at a time), for its watchdog thread.
current_attempt: Attempt | None = None


def claim_current(job_id: str) -> None:
    """Called by the worker's watchdog once the attempt at `job_id` outlived `CLAIM_AFTER`
    (unless it has ended meanwhile)."""
    attempt = current_attempt
    if attempt is not None and str(attempt.job.pk) == job_id:
        attempt.claim()


def execute(job_id: str, task_path: str) -> Any:
    """RQ's entry point for every job: run task `job.name` for the row `job_id`."""
    global current_attempt
    job = selectors.job_for_run(job_id)
    if job is None or job.status not in (JobStatus.PENDING, JobStatus.RUNNING):
        logger.info("job %s skipped: its row is %s", job_id, job.status if job else "gone")
        return None
    if job.cancel_requested:
        # Asked to stop while an earlier attempt ran, which then ended before the stop did.
        lifecycle.interrupt(job.pk, outcome=JobStatus.CANCELLED, reason=lifecycle.STOPPED_REASON)
        lifecycle.cancel(job)
        logger.info("job %s skipped: it was asked to stop", job_id)
        return None
    rq_job = get_current_job()
    attempt = Attempt(job, (rq_job.worker_name if rq_job else None) or "")
    request_token = request_id_var.set(job.request_id or "-")
    attempt_token = engine.current_attempt.set(attempt)
    current_attempt = attempt
    started = time.monotonic()
    logger.debug("job %s %s started (attempt %d)", job.id, job.name, attempt.number)
    try:
        try:
            task_ = engine.get_task(job.name, task_path)
        except LookupError as exc:
            # Retrying cannot make an unknown task appear: fail now and let RQ call it done.
            attempt.finish(JobStatus.FAILED, error=one_line(str(exc)))
            logger.error("job %s failed: %s", job.id, exc)
            return None
        # A row left `running` by a dead worker, and an atomic task, are claimed at once.
        if (job.status == JobStatus.RUNNING or task_.atomic) and not attempt.claim():
            logger.info("job %s skipped: its row moved on", job.id)
            return None
        try:
            with transaction.atomic() if task_.atomic else nullcontext():
                result = task_.func(*job.args, **job.kwargs)
                json.dumps(result, allow_nan=False)
                completed = attempt.finish(
                    JobStatus.COMPLETED, result=result, progress=100, error="", traceback=""
                )
                if task_.atomic and not completed:
                    raise RowMovedOn(
                        f"job {job.id}: the row moved on; this attempt's writes undone"
                    )
        except RowMovedOn as exc:
            logger.warning("%s", exc)
            return None
        except Exception as exc:
            _record_failure(attempt, exc, rq_job, time.monotonic() - started)
            raise
        except BaseException:
            # Stopped by an operator, or its worker shutting down: the worker records how
            # the attempt ended (`TankaWorker.handle_job_failure`), on a row marked running.
            attempt.claim()
            raise
        elapsed = time.monotonic() - started
        logger.info(
            "job %s %s completed in %.3f s on %s (queue %s, attempt %d of %d)",
            job.id, job.name, elapsed, attempt.worker_name or "a worker", job.queue,
            attempt.number, job.max_retries + 1,
            extra={"job_id": str(job.id), "task": job.name, "attempt": attempt.number,
                   "duration": elapsed},
        )  # fmt: skip
        return result
    finally:
        current_attempt = None
        engine.current_attempt.reset(attempt_token)
        request_id_var.reset(request_token)


def _record_failure(attempt: Attempt, exc: Exception, rq_job: Any, elapsed: float) -> None:
    job = attempt.job
    error = describe_error(exc, job.timeout)
    retry = bool(rq_job is not None and rq_job.should_retry)
    attempt.finish(
        JobStatus.PENDING if retry else JobStatus.FAILED,
        error=error,
        traceback=traceback.format_exc(),
    )
    logger.warning(
        "job %s %s failed after %.3f s (attempt %d of %d%s): %s",
        job.id, job.name, elapsed, attempt.number, job.max_retries + 1,
        ", will retry" if retry else "", error,
        extra={"job_id": str(job.id), "task": job.name, "duration": elapsed},
    )  # fmt: skip
