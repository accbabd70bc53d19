"""Reads of jobs: for one owner (another user's job does not exist for the caller), for the
runner, and the engine at a glance for operators."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.db.models import Count, QuerySet
from django.utils import timezone
from rq import Queue, Worker

from apps.core.db import get_by_pk
from apps.core.redis_clients import queue_redis
from apps.jobs.models import Job, JobStatus, Schedule


def job_list(*, user: Any) -> QuerySet[Job]:
    if not getattr(user, "is_authenticated", False):
        return Job.objects.none()
    return Job.objects.filter(owner=user).order_by("-created_at", "-id")


# What the runner needs of a job to run one attempt of it.
_RUN_FIELDS = (
    "id", "name", "queue", "status", "args", "kwargs", "attempts", "max_retries", "timeout",
    "progress", "owner_id", "request_id", "cancel_requested",
)  # fmt: skip


def job_for_run(job_id: Any) -> Job | None:
    """The job a worker is about to run, with only the fields the run needs."""
    return get_by_pk(Job, job_id, _RUN_FIELDS)


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    state: str
    queues: list[str]
    job_id: str | None
    job_name: str | None
    last_heartbeat: datetime | None


@dataclass(frozen=True)
class EngineSummary:
    """The engine at a glance, for the admin index and `manage.py jobs_info`."""

    by_status: dict[str, int]  # jobs created in the last 24 h
    oldest_pending_age: timedelta | None
    queue_depths: dict[str, int]
    workers: list[WorkerInfo]
    schedules_enabled: int
    redis_error: str = ""


def engine_summary(now: datetime | None = None) -> EngineSummary:
    """Jobs by status over the last 24 h, the oldest pending job's age, queue depths and the
    live workers with what each runs. Four small reads; Redis being down is said, not raised."""
    now = now or timezone.now()
    counts = dict(
        Job.objects.filter(created_at__gte=now - timedelta(hours=24))
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    by_status = {status: counts.get(status, 0) for status in JobStatus.values}
    oldest = (
        Job.objects.filter(status=JobStatus.PENDING)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    enabled = Schedule.objects.filter(enabled=True).count()
    depths: dict[str, int] = {}
    workers: list[WorkerInfo] = []
    error = ""
    try:
        connection = queue_redis()
        depths = {name: Queue(name, connection=connection).count for name in settings.RQ_QUEUES}
        cutoff = now - timedelta(seconds=settings.RQ_WORKER_HEARTBEAT_WINDOW)
        for worker in Worker.all(connection=connection):
            beat = worker.last_heartbeat.replace(tzinfo=UTC) if worker.last_heartbeat else None
            if beat is None or beat < cutoff:
                continue
            job_ids = [execution.job_id for execution in worker.get_current_executions()]
            job_id = job_ids[0] if job_ids else None
            workers.append(
                WorkerInfo(
                    name=worker.name,
                    state=str(worker.get_state()),
                    queues=worker.queue_names(),
                    job_id=job_id,
                    job_name=_job_name(job_id),
                    last_heartbeat=beat,
                )
            )
    except redis.RedisError as exc:
        error = f"Redis is unavailable: {exc}"
    return EngineSummary(
        by_status=by_status,
        oldest_pending_age=now - oldest if oldest else None,
        queue_depths=depths,
        workers=sorted(workers, key=lambda worker: worker.name),
        schedules_enabled=enabled,
        redis_error=error,
    )


def _job_name(job_id: str | None) -> str | None:
    if job_id is None:
        return None
    return Job.objects.filter(pk=job_id).values_list("name", flat=True).first()
