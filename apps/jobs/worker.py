"""The RQ worker class every `manage.py rqworker` runs (settings.RQ["WORKER_CLASS"])."""

import ctypes
import logging
import os
import signal
import sys
import threading
import time
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections
from django_rq.queues import DjangoRQ
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import worker_registration
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.scheduler import RQScheduler
from rq.timeouts import JobTimeoutException
from rq.utils import now as rq_now
from rq.worker import SimpleWorker, WorkerStatus

from apps.core import pubsub
from apps.jobs import bookkeeping, reconcile, runner, schedules
from tanka.names import EXIT_HARD_LIMIT

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
# RQ's stop-job command interrupts the running task with this signal.
STOP_JOB_SIGNAL = signal.SIGUSR1
HARD_LIMIT_REASON = "the job overran its time limit"
# At most one heartbeat a second between jobs (RQ's TTLs are tens of seconds), and one look
# a second for `rq suspend`; a database connection that answered less than this ago is not
# asked again before the next job.
BEAT_GAP = 1.0

logger = logging.getLogger("tanka.jobs")

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Make this (forked) process die the moment its parent does.

    A scheduler whose worker was killed must not go on reconciling and scheduling unseen,
    holding the lock a live worker's scheduler needs. Linux only.
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
    """The scheduler process of a worker started `--with-scheduler`, in every such worker.

    Each pass (about once a second) it releases the jobs whose time has come and fires the
    schedules that are due (`apps/jobs/schedules.py`: every scheduler may do so at once, the
    database keeps each firing to one job), and runs the reconciliation when its period is
    up (one Redis lock keeps that to one pass per period cluster-wide). RQ's own part, the
    retries waiting in RQ's scheduled registries, is done by the one scheduler holding RQ's
    locks; the others try to take them over every reconciliation period.
    """

    def start(self) -> Any:
        # The child must not inherit the worker's database connections.
        connections.close_all()
        self._parent_pid = os.getpid()
        return super().start()

    def work(self) -> None:
        die_with_parent(self._parent_pid)
        super().work()

    @property
    def should_reacquire_locks(self) -> bool:
        # RQ tries again every 2 minutes; a dead lock holder's retries should not wait that.
        if self._queue_names == self.acquired_locks:
            return False
        checked = self.lock_acquisition_time
        return checked is None or (
            (datetime.now() - checked).total_seconds() >= reconcile.reconcile_interval()
        )

    def enqueue_scheduled_jobs(self) -> None:
        super().enqueue_scheduled_jobs()
        try:
            close_old_connections()
            schedules.tick(self.connection)
        except Exception:
            logger.exception("scheduler pass failed; the next one tries again")
        try:
            reconcile.reconcile_if_due(self.connection)
        except Exception:
            logger.exception("job reconciliation failed; it will run again next period")


def _refresh_connections(*, just_answered: bool = False) -> None:
    """Django's check around each request, around each job: drop a connection that broke or
    outlived CONN_MAX_AGE. Never one inside a transaction (a burst worker run by a test).

    `just_answered` (after a job that raised no database error) spares the next job the
    health check's extra query: the connection has just answered. A connection that saw an
    error is checked here all the same, and one left idle longer is checked before the next
    job (`TankaWorker.execute_job`)."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
            if just_answered and connection.connection is not None:
                connection.health_check_done = True


# Pops the first waiting job of the queues, in their order, with its hash and the number of
# jobs still waiting: RQ's dequeue of a waiting job in one round trip instead of two. Ids whose
# hash is gone are skipped, as RQ does.
_POP_WITH_HASH = """
local found
for _, queue_key in ipairs(KEYS) do
    while not found do
        local job_id = redis.call('LPOP', queue_key)
        if not job_id then break end
        local fields = redis.call('HGETALL', ARGV[1] .. job_id)
        if #fields > 0 then found = {queue_key, job_id, fields} end
    end
end
if not found then return false end
local waiting = 0
for _, queue_key in ipairs(KEYS) do waiting = waiting + redis.call('LLEN', queue_key) end
found[4] = waiting
return found
"""


class _LastDequeue:
    """What this worker process's last dequeue saw of its queues."""

    # Nothing was left waiting: the next dequeue blocks at once, rather than first trying
    # the pop that would find nothing.
    ran_dry = False
    # The queues it listened to, for the count after a blocking pop.
    keys: list[str] = []


class TankaQueue(DjangoRQ):
    """django-rq's queue (settings.RQ["QUEUE_CLASS"]). A worker takes a waiting job and its
    hash in one round trip; when its last dequeue left nothing waiting (a worker keeping up)
    it blocks at once, RQ's own way, and then takes the job's hash with the count of the jobs
    waiting behind it in one more: two round trips a job either way, where trying the pop
    first made it three."""

    @classmethod
    def dequeue_any(  # type: ignore[override]
        cls,
        queues: Any,
        timeout: int | None,
        connection: Any,
        job_class: type[Job] | None = None,
        serializer: Any = None,
        death_penalty_class: Any = None,
    ) -> tuple[Job, Queue] | None:
        queues = list(queues)
        keys = [queue.key for queue in queues]
        if not _LastDequeue.ran_dry:
            popped = connection.register_script(_POP_WITH_HASH)(
                keys=keys, args=[Job.redis_job_namespace_prefix]
            )
            if popped:
                queue_key, job_id, fields, waiting = popped
                _LastDequeue.ran_dry = not waiting
                job = (job_class or Job)(
                    job_id.decode(), connection=connection, serializer=serializer
                )
                job.restore(dict(zip(fields[::2], fields[1::2], strict=True)))
                queue = next(q for q in queues if q.key == queue_key.decode())
                return job, queue
        _LastDequeue.ran_dry, _LastDequeue.keys = True, keys
        return super().dequeue_any(
            queues, timeout, connection, job_class, serializer, death_penalty_class
        )

    @classmethod
    def _fetch_dequeued_job(  # type: ignore[override]
        cls,
        connection: Any,
        queue_key: str,
        job_id: str,
        job_class: type[Job] | None = None,
        serializer: Any = None,
        death_penalty_class: Any = None,
    ) -> tuple[Job, Queue] | None:
        """After RQ's blocking pop: the job's hash, and whether more jobs wait behind it, in
        one round trip. A job whose hash is gone is skipped (None), as RQ does."""
        job_class = job_class or cls.job_class
        queue = cls.from_queue_key(
            queue_key,
            connection=connection,
            job_class=job_class,
            serializer=serializer,
            death_penalty_class=death_penalty_class,
        )
        with connection.pipeline(transaction=False) as pipeline:
            pipeline.hgetall(job_class.redis_job_namespace_prefix + job_id)
            for key in _LastDequeue.keys:
                pipeline.llen(key)
            fields, *waiting = pipeline.execute()
        _LastDequeue.ran_dry = not any(waiting)
        if not fields:
            return None
        job = job_class(job_id, connection=connection, serializer=serializer)
        job.restore(fields)
        return job, queue


class JobStopped(BaseException):
    """Raised in a running task when an operator stops its job (RQ's stop-job command).

    Not an `Exception`, so a task's own `except Exception` cannot swallow it."""


class TankaWorker(SimpleWorker):
    """RQ's worker, running jobs inside the worker's own long-lived process, made safe for
    Django and quick to be seen dead.

    Jobs run in the worker process, as gunicorn serves requests, not in a process forked per
    job: the fork and the new database connection each forked job needs cost more than a short
    job itself (bench/RESULTS.md, "The jobs row"). What the fork gave is kept:

    - A time limit: RQ's SIGALRM raises `JobTimeoutException` in the task at its `timeout`. A
      task stuck where no signal reaches it (inside C code) is a hard limit's matter: once it
      overruns by `JOBS_HARD_LIMIT_GRACE` seconds, its attempt is recorded, RQ retries or fails it,
      and the worker exits for its supervisor to start a fresh one.
    - Heartbeats while a job runs, from a thread, at the pace `JOBS_WORKER_LOST_AFTER` needs,
      so a long job is never taken for lost; a killed worker takes its job with it.
    - Stopping a running job from the RQ dashboard (`JobStopped` raised in the task), recorded
      as `cancelled`; a worker shut down in the middle of a job records the interruption.
    - Database connections are checked after each job, as Django does around each request,
      and health-checked before a job only when idle for a second or more; none is open when
      the scheduler process is forked.
    - The worker TTL is capped at `RQ_WORKER_TTL`, so an idle worker heartbeats every
      `RQ_WORKER_TTL - 15` s and /health can tell a live worker from one that was killed.
    - `--with-scheduler` runs `TankaScheduler`, and an idle worker takes over a dead scheduler
      (once its lock expires) within one reconciliation period.
    """

    # RQ waits up to 60 s between tries while Redis is down; back within 10 s of its return.
    max_connection_wait_time = 10.0
    queue_class = TankaQueue

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        ttl = kwargs.get("worker_ttl") or settings.RQ_WORKER_TTL
        kwargs["worker_ttl"] = min(ttl, settings.RQ_WORKER_TTL)
        kwargs.setdefault("job_monitoring_interval", reconcile.heartbeat_interval())
        super().__init__(*args, **kwargs)
        self._scheduler_checked_at = self._registration_checked_at = self._beaten_at = 0.0
        self._suspension_checked_at = self._job_ended_at = 0.0
        self._running_job_id: str | None = None
        self._watchdog = _Watchdog(self)

    def execute_job(self, job: Job, queue: Queue) -> None:
        execution = self.prepare_execution(job)
        if time.monotonic() - self._job_ended_at >= BEAT_GAP:
            _refresh_connections()
        self._running_job_id = job.id
        self._watchdog.watch(job, queue, execution)
        try:
            self.perform_job(job, queue, execution)
        finally:
            self._running_job_id = None
            self._watchdog.release()
            _refresh_connections(just_answered=True)
            self._job_ended_at = time.monotonic()

    def prepare_execution(self, job: Job) -> Execution:
        """RQ's preparation of a job (the execution, the job's start, the worker busy and
        its heartbeat) in one command (`apps/jobs/bookkeeping.py`)."""
        # On one queue RQ's blocking pop moves the job into the queue's intermediate list;
        # RQ's own preparation takes it out there, so its maintenance does not take it for a
        # job stuck between the two.
        parked = self.queues[0].intermediate_queue_key if len(self.queues) == 1 else None
        execution = bookkeeping.start(
            self, job, ttl=self.get_heartbeat_ttl(job), intermediate_key=parked
        )
        self._beaten_at = time.monotonic()
        return execution

    def perform_job(self, job: Job, queue: Queue, execution: Execution) -> bool:
        """RQ's perform_job without what our jobs never use on success (dependencies,
        repeats, callbacks, results: the Job row keeps the result): the bookkeeping of a
        finished job (`apps/jobs/bookkeeping.py`) and its events are one round trip.
        Failures take RQ's own path (retries, the failed registry)."""
        with pubsub.batched():
            try:
                timeout = job.timeout or self.queue_class.DEFAULT_TIMEOUT
                with self.death_penalty_class(timeout, JobTimeoutException, job_id=job.id):
                    job.perform()
                job.ended_at = rq_now()
            except:  # noqa: E722 - RQ's contract: every exception is the job's failure
                self._finalize_failure(job, queue, execution, sys.exc_info())
                return False
            job._status = JobStatus.FINISHED
            with self.connection.pipeline(transaction=False) as pipeline:
                bookkeeping.finish(self, job, execution, pipeline)
                # The job's events (its outcome) leave with the bookkeeping.
                pubsub.add_batched(pipeline)
                pipeline.execute()
            self._beaten_at = time.monotonic()
        return True

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        super().bootstrap(*args, **kwargs)
        signal.signal(STOP_JOB_SIGNAL, self._raise_job_stopped)
        self._watchdog.start()

    def kill_horse(self, sig: signal.Signals = signal.SIGKILL) -> None:
        # RQ's stop-job command (from the pubsub thread): interrupt the task in the main thread.
        if self._running_job_id is not None and self._stopped_job_id == self._running_job_id:
            signal.pthread_kill(threading.main_thread().ident, STOP_JOB_SIGNAL)

    def _raise_job_stopped(self, signum: int, frame: Any) -> None:
        if self._running_job_id is not None and self._stopped_job_id == self._running_job_id:
            raise JobStopped(f"job {self._running_job_id} stopped by an operator")

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
        # Every worker with the scheduler runs its process, RQ's locks or not (TankaScheduler).
        self.scheduler.acquire_locks()
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
            self._beat(timeout, pipeline)
            return
        # RQ heartbeats several times around every job, three round trips each; once a
        # second, in one round trip, keeps the same promise (the TTL is far longer).
        if timeout is None and time.monotonic() - self._beaten_at < BEAT_GAP:
            return
        try:
            with self.connection.pipeline(transaction=False) as beat:
                self._beat(timeout, beat)
                beat.execute()
            self._keep_registered()
            self._keep_scheduler_alive()
        except REDIS_DOWN as exc:
            # RQ's work loop quits on a Redis error outside its dequeue; let the dequeue, which
            # waits for Redis to come back, be the one to meet it.
            logger.warning("worker %s: Redis unavailable at heartbeat: %s", self.name, exc)

    def _beat(self, timeout: int | None, pipeline: Any) -> None:
        super().heartbeat(timeout, pipeline)
        self._beaten_at = time.monotonic()

    def set_state(self, state: str, pipeline: Any = None) -> None:
        # RQ sets the idle state before every dequeue; write it only when it changes.
        if pipeline is None and state == self._state:
            return
        super().set_state(state, pipeline)

    def check_for_suspension(self, burst: bool) -> None:
        # RQ asks Redis before every job; once a second is soon enough for `rq suspend`.
        now = time.monotonic()
        if now - self._suspension_checked_at < BEAT_GAP:
            return
        self._suspension_checked_at = now
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
        # RQ heartbeats several times per job; once per heartbeat period is enough here.
        if time.monotonic() - self._registration_checked_at < reconcile.heartbeat_interval():
            return
        self._registration_checked_at = time.monotonic()
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

    def _keep_scheduler_alive(self) -> None:
        """Start the scheduler process again when it died.

        RQ only checks in its maintenance, every 10 minutes; the reconciliation's bound needs a
        check every period. Only between jobs, in the main thread: forking the scheduler from
        the heartbeat thread while a task holds locks would hand the child those locks held.
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
            scheduler.acquire_locks()
            scheduler.start()

    def handle_job_failure(
        self,
        job: Job,
        queue: Queue,
        started_job_registry: Any = None,
        exc_string: str = "",
        execution: Any = None,
    ) -> None:
        # The runner records a task's own failure; what ends an attempt without it (a stop, a
        # shutdown, the hard limit) is recorded here. The row's compare-and-set makes this a
        # no-op after the runner.
        self._record_interrupted(job, exc_string)
        super().handle_job_failure(job, queue, started_job_registry, exc_string, execution)
        self.set_state(WorkerStatus.IDLE)

    def _record_interrupted(self, job: Job, exc_string: str) -> None:
        from apps.jobs import lifecycle
        from apps.jobs.models import JobStatus

        if self._stopped_job_id == job.id:
            outcome, reason = JobStatus.CANCELLED, "stopped by an operator"
        else:
            outcome = JobStatus.PENDING if job.should_retry else JobStatus.FAILED
            hard_limit = exc_string.startswith(HARD_LIMIT_REASON)
            reason = exc_string if hard_limit else "the worker was shut down while running this job"
        try:
            if lifecycle.interrupt(job.id, outcome=outcome, reason=reason) is not None:
                logger.warning("job %s %s: %s", job.id, outcome, reason)
        except Exception:
            logger.exception("job %s: could not record its interrupted attempt", job.id)


class _Watchdog(threading.Thread):
    """The worker's second thread, for its whole life. Every `TICK` seconds it looks at the
    job running: it marks the row of a job still running after `runner.CLAIM_AFTER` seconds
    `running`, heartbeats at the worker's monitoring interval, and gives up on a job past its
    hard time limit. Starting and ending a job only sets an attribute, so a short job costs
    this thread nothing (a condition notified at both ends woke it twice per job)."""

    TICK = 0.05

    def __init__(self, worker: TankaWorker) -> None:
        super().__init__(name=f"watchdog-{worker.name}", daemon=True)
        self.worker = worker
        self._watched: tuple[Job, Queue, Execution, float] | None = None

    def watch(self, job: Job, queue: Queue, execution: Execution) -> None:
        self._watched = (job, queue, execution, time.monotonic())

    def release(self) -> None:
        self._watched = None

    def run(self) -> None:
        followed: _Followed | None = None
        while True:
            time.sleep(self.TICK)
            watched = self._watched
            if watched is None:
                followed = None
                continue
            if followed is None or followed.watched is not watched:
                followed = _Followed(watched, self.worker.job_monitoring_interval)
            if not self._look(followed):
                return

    def _look(self, followed: "_Followed") -> bool:
        """Act on the followed job as its time requires; False once the worker must exit."""
        job, queue, execution, began = followed.watched
        now = time.monotonic()
        if not followed.claimed and now >= began + runner.CLAIM_AFTER:
            followed.claimed = True
            try:
                runner.claim_current(job.id)
            except Exception:
                logger.exception("job %s: could not mark it running", job.id)
            finally:
                # This thread touches the database once per long job: hold no connection.
                connections.close_all()
        if followed.hard_limit_at is not None and now >= followed.hard_limit_at:
            if self._watched is followed.watched:
                self._give_up(job, queue, execution, job.timeout or 0)
                return False
        if now >= followed.beat_at and self._watched is followed.watched:
            followed.beat_at = now + self.worker.job_monitoring_interval
            try:
                self.worker.maintain_heartbeats(job, execution)
            except REDIS_DOWN as exc:
                logger.warning(
                    "worker %s: Redis unavailable at heartbeat: %s", self.worker.name, exc
                )
            except Exception:
                logger.exception("worker %s: heartbeat failed", self.worker.name)
        return True

    def _give_up(self, job: Job, queue: Queue, execution: Execution, timeout: int) -> None:
        worker = self.worker
        reason = f"{HARD_LIMIT_REASON} ({timeout} s) and did not stop; its worker was restarted"
        logger.error("job %s %s: %s", job.id, job.description, reason)
        try:
            job.ended_at = rq_now()
            worker.handle_job_failure(job, queue, exc_string=reason, execution=execution)
            worker.register_death()
        finally:
            os._exit(EXIT_HARD_LIMIT)


class _Followed:
    """One job as the watchdog follows it: when it is due to heartbeat, when it overruns."""

    def __init__(self, watched: tuple[Job, Queue, Execution, float], interval: float) -> None:
        self.watched = watched
        job, _, _, began = watched
        self.claimed = False
        self.beat_at = began + interval
        timeout = job.timeout or 0
        self.hard_limit_at = (
            began + timeout + settings.JOBS_HARD_LIMIT_GRACE if timeout > 0 else None
        )
