"""Finding lost work: the periodic reconciliation of Job rows with what RQ and its workers
actually hold (docs/jobs.md, "Workers"; docs/api.md, "Jobs").

Everything is derived from one bound, `JOBS_WORKER_LOST_AFTER` (default 180 s): a job whose
worker died is failed or retried within that many seconds of the death.

- A busy worker heartbeats every `heartbeat_interval()` (bound / 6, at most 30 s).
- A worker is dead once its last heartbeat is older than `stale_after()` (bound / 2), or when
  it is gone from Redis or registered its death.
- The reconciliation runs every `reconcile_interval()` (bound / 6) in the RQ scheduler
  process (`TankaScheduler`), so a death is acted on within bound / 2 + bound / 6 (plus the
  scheduler take-over time when the dead worker was also the scheduler).

Each pass:
1. `running` rows whose worker is dead, or alive but no longer running them: retried (row back
   to `pending`, RQ re-queues or schedules it) while retries are left, else `failed` with the
   reason. RQ's copy leaves the started registry, so RQ's own abandoned-job cleanup (which
   waits for much longer) never acts on the same job twice.
2. `pending` rows older than `stale_after()` that RQ no longer holds (Redis lost them, the
   process died between commit and hand-over, or a worker took the job off its queue and
   stopped before starting it) are queued again; those RQ gave up on are failed.
"""

import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.db.models.functions import Coalesce
from django.utils import timezone
from rq import Queue, Worker
from rq.job import Job as RQJob
from rq.job import JobStatus as RQStatus
from rq.job_lifecycle import record_job_failure
from rq.registry import StartedJobRegistry

from apps.core.exceptions import ServiceUnavailableError
from apps.core.redis_clients import queue_redis
from apps.jobs import engine, lifecycle
from apps.jobs.models import Job, JobStatus

logger = logging.getLogger("tanka.jobs")

LOCK_KEY = "tanka:jobs:reconcile-lock"
ORPHAN_KEY_PREFIX = "tanka:jobs:orphaned-since:"
PENDING_BATCH = 500
_RQ_WAITING = (RQStatus.QUEUED, RQStatus.SCHEDULED, RQStatus.DEFERRED)
_RQ_GAVE_UP = (RQStatus.FAILED, RQStatus.STOPPED, RQStatus.CANCELED, RQStatus.FINISHED)


def heartbeat_interval() -> int:
    return max(1, min(30, settings.JOBS_WORKER_LOST_AFTER // 6))


def stale_after() -> int:
    return max(3, settings.JOBS_WORKER_LOST_AFTER // 2)


def reconcile_interval() -> int:
    return max(1, settings.JOBS_WORKER_LOST_AFTER // 6)


@dataclass
class Report:
    retried: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.retried or self.failed or self.requeued)


@dataclass
class _WorkerState:
    alive: bool
    job_ids: set[str]
    why_dead: str = ""


def reconcile_if_due(connection: redis.Redis) -> Report | None:
    """Run a pass unless another process ran one within the period."""
    if not connection.set(LOCK_KEY, os.getpid(), nx=True, ex=reconcile_interval()):
        return None
    return reconcile(connection=connection)


def reconcile(*, connection: redis.Redis | None = None, now: datetime | None = None) -> Report:
    connection = connection or queue_redis()
    now = now or timezone.now()
    report = Report()
    _reconcile_running(connection, now, report)
    _reconcile_pending(connection, now, report)
    if report:
        logger.warning(
            "reconciliation: %d retried, %d failed, %d queued again",
            len(report.retried), len(report.failed), len(report.requeued),
        )  # fmt: skip
    return report


def _state_of(
    connection: redis.Redis, name: str, now: datetime, seen: dict[str, _WorkerState]
) -> _WorkerState:
    """A worker's state, looked up once per pass."""
    if name not in seen:
        seen[name] = _worker_state(connection, name, now)
    return seen[name]


def _worker_state(connection: redis.Redis, name: str, now: datetime) -> _WorkerState:
    if not name:
        return _WorkerState(alive=False, job_ids=set(), why_dead="no worker recorded")
    worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + name, connection=connection)
    if worker is None:
        return _WorkerState(False, set(), f"worker {name} is gone")
    if worker.death_date is not None:
        return _WorkerState(False, set(), f"worker {name} stopped")
    heartbeat = worker.last_heartbeat
    if heartbeat is None or heartbeat.replace(tzinfo=UTC) < now - timedelta(seconds=stale_after()):
        return _WorkerState(False, set(), f"worker {name} stopped sending heartbeats")
    job_ids = {execution.job_id for execution in worker.get_current_executions(refresh=True)}
    return _WorkerState(True, job_ids)


def _reconcile_running(connection: redis.Redis, now: datetime, report: Report) -> None:
    workers: dict[str, _WorkerState] = {}
    grace = now - timedelta(seconds=stale_after())
    for row in Job.objects.filter(status=JobStatus.RUNNING).order_by("started_at"):
        state = _state_of(connection, row.worker_name, now, workers)
        if state.alive:
            if str(row.id) in state.job_ids or (row.started_at and row.started_at > grace):
                continue
            reason = f"worker {row.worker_name} is no longer running this job"
        else:
            reason = f"the worker running this job died ({state.why_dead})"
        _recover_running(connection, row, reason, report)


def _fetch(connection: redis.Redis, job_id: Any) -> RQJob | None:
    jobs = RQJob.fetch_many([str(job_id)], connection=connection)
    return jobs[0] if jobs else None


def _recover_running(
    connection: redis.Redis, row: Job, reason: str, report: Report, rq_job: RQJob | None = None
) -> None:
    """An attempt whose worker died or let go of it, whether or not its row says `running`
    (a short job's row stays `pending` while it runs): retried while RQ has retries left for
    it, else failed; the attempt counts either way."""
    rq_job = rq_job or _fetch(connection, row.id)
    rq_status = rq_job.get_status(refresh=False) if rq_job else None
    if rq_status == RQStatus.STARTED:
        retry = rq_job.should_retry
    else:
        # RQ already re-queued it (its own cleanup got there first), or gave up on it.
        retry = rq_status in _RQ_WAITING
    if lifecycle.recover(row, retry=retry, reason=reason) is None:
        return
    (report.retried if retry else report.failed).append(str(row.id))
    logger.warning("job %s %s %s: %s", row.id, row.name, "retried" if retry else "failed", reason)
    if rq_status != RQStatus.STARTED:
        return
    queue = Queue(rq_job.origin, connection=connection)
    with connection.pipeline() as pipeline:
        StartedJobRegistry(rq_job.origin, connection=connection).remove_executions(
            rq_job, pipeline=pipeline
        )
        if retry:
            rq_job.retry(queue, pipeline)
        else:
            record_job_failure(rq_job, f"Abandoned: {reason}", pipeline)
        pipeline.execute()


def _orphaned(
    connection: redis.Redis, rq_job: RQJob, now: datetime, workers: dict[str, _WorkerState]
) -> bool:
    """A job RQ still calls queued (or started) that neither its queue nor a live worker holds.

    A worker takes a job off its queue (BLPOP when it listens on several queues, LMOVE into
    the queue's intermediate list when on one) before it records the job's execution; one
    stopped or killed in between leaves the job nowhere, and nothing in RQ ever runs it. A
    worker killed after recording the execution but before the job's start leaves it in the
    started registry with a dead worker.

    The first pass that finds the job so only notes the time; a pass more than
    `stale_after()` seconds later decides, so a worker caught between its dequeue and the
    job's start is left alone. The job is then taken out of RQ's intermediate list, where
    RQ's own cleanup would otherwise fail the copy queued again.
    """
    marker = f"{ORPHAN_KEY_PREFIX}{rq_job.id}"
    queue = Queue(rq_job.origin, connection=connection)
    if connection.lpos(queue.key, rq_job.id) is not None or _held_by_live_worker(
        connection, rq_job, now, workers
    ):
        connection.delete(marker)
        return False
    if connection.set(marker, now.timestamp(), nx=True, ex=4 * stale_after()):
        return False
    first_seen = float(connection.get(marker) or now.timestamp())
    if now.timestamp() - first_seen < stale_after():
        return False
    with connection.pipeline() as pipeline:
        pipeline.lrem(queue.intermediate_queue.key, 1, rq_job.id)
        pipeline.delete(marker, queue.intermediate_queue.get_first_seen_key(rq_job.id))
        pipeline.execute()
    return True


def _held_by_live_worker(
    connection: redis.Redis, rq_job: RQJob, now: datetime, workers: dict[str, _WorkerState]
) -> bool:
    return any(
        _state_of(connection, execution.worker_name, now, workers).alive
        for execution in rq_job.get_executions()
    )


def _reconcile_pending(connection: redis.Redis, now: datetime, report: Report) -> None:
    cutoff = now - timedelta(seconds=stale_after())
    rows = list(
        Job.objects.filter(status=JobStatus.PENDING)
        .annotate(handed_over=Coalesce("enqueued_at", "created_at"))
        .filter(handed_over__lt=cutoff)
        .order_by("handed_over")[:PENDING_BATCH]
    )
    if not rows:
        return
    rq_jobs = RQJob.fetch_many([str(row.id) for row in rows], connection=connection)
    workers: dict[str, _WorkerState] = {}
    for row, rq_job in zip(rows, rq_jobs, strict=True):
        if rq_job is None:
            _queue_again(row, "was lost by the queue", report)
            continue
        rq_status = rq_job.get_status(refresh=False)
        if rq_status in (RQStatus.QUEUED, RQStatus.STARTED) and _orphaned(
            connection, rq_job, now, workers
        ):
            if rq_status == RQStatus.STARTED:
                reason = "the worker running this job died before it ended"
                _recover_running(connection, row, reason, report, rq_job)
            else:
                _queue_again(row, "was taken by a worker that never ran it", report, rq_job)
            continue
        if rq_status not in _RQ_GAVE_UP:
            continue
        reason = f"the task queue dropped this job (RQ status {rq_status})"
        if lifecycle.give_up(row, reason=reason) is not None:
            report.failed.append(str(row.id))


def _queue_again(row: Job, what_happened: str, report: Report, rq_job: RQJob | None = None) -> None:
    """Queue the job again; its RQ copy names the task's module, so a task this process has
    not imported yet is found too."""
    path = rq_job.args[1] if rq_job is not None and len(rq_job.args) > 1 else None
    try:
        engine.push(row, engine.get_task(row.name, path))
    except (LookupError, ServiceUnavailableError) as exc:
        logger.error("job %s %s and could not be queued again: %s", row.id, what_happened, exc)
        return
    report.requeued.append(str(row.id))
    logger.warning("job %s %s %s; queued again", row.id, row.name, what_happened)
