"""The RQ worker class every `manage.py rqworker` runs (settings.RQ["WORKER_CLASS"])."""

import ctypes
import logging
import os
import re
import signal
import sys
import time
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import worker_registration
from rq.job import Job
from rq.queue import Queue
from rq.scheduler import RQScheduler
from rq.worker import Worker

from apps.jobs import reconcile

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)

logger = logging.getLogger("tanka.jobs")

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Make this (forked) process die the moment its parent does.

    A job whose worker was killed must not go on running unseen: the reconciliation would
    retry it while the orphan still works on it. Linux only; elsewhere a killed worker's
    child finishes its job alone.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            logger.warning("cannot tie process %d to its parent's life", os.getpid())
    if os.getppid() != parent_pid:
        os._exit(1)


class TankaScheduler(RQScheduler):
    """RQ's scheduler (retries with intervals, jobs for later), which also runs the task
    engine's reconciliation in its own process: it keeps its pace while every worker is
    busy with long jobs, and one Redis lock keeps it to one pass per period cluster-wide."""

    def start(self) -> Any:
        # The child must not inherit the worker's database connections.
        connections.close_all()
        self._parent_pid = os.getpid()
        return super().start()

    def work(self) -> None:
        die_with_parent(self._parent_pid)
        super().work()

    def enqueue_scheduled_jobs(self) -> None:
        super().enqueue_scheduled_jobs()
        try:
            close_old_connections()
            reconcile.reconcile_if_due(self.connection)
        except Exception:
            logger.exception("job reconciliation failed; it will run again next period")


class TankaWorker(Worker):
    """RQ's forking worker, made safe for Django and quick to be seen dead.

    - DB connections are closed before each fork: a connection opened in the parent (by a
      hook that wrote a Job row) must never be shared with the child.
    - The worker TTL is capped at `RQ_WORKER_TTL`, so an idle worker heartbeats every
      `RQ_WORKER_TTL - 15` s and /health can tell a live worker from one that was killed.
    - A busy worker heartbeats at the pace `JOBS_WORKER_LOST_AFTER` needs, its job process
      dies with it, and an attempt whose process died is recorded on the Job row.
    - `--with-scheduler` runs `TankaScheduler`, and a worker takes over a dead scheduler
      (once its lock expires) within one reconciliation period, busy or idle.
    """

    # RQ waits up to 60 s between tries while Redis is down; back within 10 s of its return.
    max_connection_wait_time = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        ttl = kwargs.get("worker_ttl") or settings.RQ_WORKER_TTL
        kwargs["worker_ttl"] = min(ttl, settings.RQ_WORKER_TTL)
        kwargs.setdefault("job_monitoring_interval", reconcile.heartbeat_interval())
        super().__init__(*args, **kwargs)
        self._scheduler_checked_at = 0.0

    def fork_work_horse(self, job: Job, queue: Queue) -> None:
        connections.close_all()
        self._worker_pid = os.getpid()
        super().fork_work_horse(job, queue)

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        die_with_parent(self._worker_pid)
        super().main_work_horse(job, queue)

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = "%H:%M:%S",
        log_format: str = "%(asctime)s %(message)s",
    ) -> None:
        # RQ's own _start_scheduler, with TankaScheduler in place of RQScheduler.
        self.scheduler = TankaScheduler(
            self.queues,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,
        )
        self.scheduler.acquire_locks()
        if self.scheduler.acquired_locks:
            if burst:
                try:
                    self.scheduler.register_birth()
                    self.scheduler.enqueue_scheduled_jobs()
                finally:
                    self.scheduler.release_locks()
                    self.scheduler.register_death()
            else:
                self.scheduler.start()

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        if pipeline is not None:
            super().heartbeat(timeout, pipeline)
            return
        try:
            super().heartbeat(timeout, pipeline)
            if not self.is_horse:
                self._keep_registered()
                self._keep_scheduler_alive()
        except REDIS_DOWN as exc:
            # RQ's work loop quits on a Redis error outside its dequeue; let the dequeue, which
            # waits for Redis to come back, be the one to meet it.
            logger.warning("worker %s: Redis unavailable at heartbeat: %s", self.name, exc)

    def check_for_suspension(self, burst: bool) -> None:
        try:
            super().check_for_suspension(burst)
        except REDIS_DOWN as exc:
            logger.warning("worker %s: Redis unavailable: %s", self.name, exc)

    def run_maintenance_tasks(self) -> None:
        try:
            super().run_maintenance_tasks()
        except REDIS_DOWN as exc:
            logger.warning("worker %s: maintenance skipped, Redis unavailable: %s", self.name, exc)

    def _keep_registered(self) -> None:
        """Register again when Redis came back without this worker (restarted empty, or
        failed over): RQ's heartbeat only refreshes a registration, so the worker would
        work on unseen by /health and the dashboard until it restarted."""
        if self._shutdown_requested_date is not None or getattr(self, "_death_registered", False):
            # A stopping worker must not come back from the dead it just registered.
            return
        if self.connection.sismember(self.redis_workers_keys, self.key):
            return
        logger.warning("worker %s: Redis lost its registration; registering again", self.name)
        with self.connection.pipeline() as pipeline:
            pipeline.hset(self.key, mapping=self.serialize())
            worker_registration.register(self, pipeline)
            pipeline.expire(self.key, self.worker_ttl + 60)
            pipeline.execute()

    def register_death(self, *args: Any, **kwargs: Any) -> None:
        self._death_registered = True
        super().register_death(*args, **kwargs)

    def maintain_heartbeats(self, job: Job, execution: Any) -> None:
        super().maintain_heartbeats(job, execution)
        self._keep_scheduler_alive()

    def _keep_scheduler_alive(self) -> None:
        """Take over the scheduler (and with it the reconciliation) when its process died.

        RQ only checks in its maintenance, every 10 minutes and only while idle; the
        reconciliation's bound needs a check every period, busy or idle.
        """
        scheduler = self.scheduler
        if self._shutdown_requested_date is not None:
            # Stopping: a scheduler started now would keep this process from exiting.
            return
        if not scheduler or time.monotonic() - self._scheduler_checked_at < (
            reconcile.reconcile_interval()
        ):
            return
        self._scheduler_checked_at = time.monotonic()
        if not (scheduler._process and scheduler._process.is_alive()):
            scheduler.acquire_locks(auto_start=True)

    def handle_job_failure(
        self,
        job: Job,
        queue: Queue,
        started_job_registry: Any = None,
        exc_string: str = "",
        execution: Any = None,
    ) -> None:
        # In the worker process (not the job's) this means the job process died or was
        # stopped, so the runner could not record the attempt: do it here.
        if not self.is_horse:
            self._record_interrupted(job, exc_string)
        super().handle_job_failure(job, queue, started_job_registry, exc_string, execution)

    def _record_interrupted(self, job: Job, exc_string: str) -> None:
        from apps.jobs.models import JobStatus
        from apps.jobs.runner import record_interrupted

        if self._stopped_job_id == job.id:
            outcome, reason = JobStatus.CANCELLED, "stopped by an operator"
        else:
            outcome = JobStatus.PENDING if job.should_retry else JobStatus.FAILED
            died = re.search(r"signal \d+", exc_string)
            reason = "the worker process running this job died" + (
                f" ({died.group(0)})" if died else ""
            )
        try:
            record_interrupted(job.id, reason=reason, outcome=outcome)
        except Exception:
            logger.exception("job %s: could not record its interrupted attempt", job.id)
