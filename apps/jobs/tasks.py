"""Tasks of the jobs app itself."""

import time
from typing import Any

from apps.jobs.engine import Cron, set_progress, task
from apps.jobs.models import TEST_TASK

TEST_MAX_DURATION = 30


class SelfTestError(RuntimeError):
    """Raised by the test task when asked to fail."""


@task(
    name=TEST_TASK, queue="default", timeout=TEST_MAX_DURATION + 30, retries=2, retry_intervals=[1]
)
def self_test(
    *, duration: float = 0, fail: bool = False, payload: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The task behind `POST /api/v1/jobs/test`: sleeps `duration` seconds while reporting
    progress, then returns `payload`, or raises on every try when `fail` is set, so clients
    and operators can watch the whole lifecycle, retries included."""
    deadline = time.monotonic() + duration
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(0.25, left))
        set_progress(100 * (1 - max(0.0, deadline - time.monotonic()) / duration))
    if fail:
        raise SelfTestError("the test job failed, as requested")
    return payload or {}


@task(
    name="purge_jobs",
    queue="low_priority",
    timeout=3600,
    retries=0,
    schedule=Cron("23 * * * *", name="purge-finished-jobs"),
)
def purge_jobs() -> dict[str, Any]:
    """Delete finished jobs past their retention (`JOBS_KEEP_*`), every hour."""
    from apps.jobs.services import jobs_purge

    result = jobs_purge()
    return {"deleted": result.deleted, "by_status": result.by_status}
