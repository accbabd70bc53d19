"""The task engine's public interface: register tasks, enqueue them, report progress.

    from apps.jobs.engine import task, enqueue, set_progress

    @task(queue="low_priority", timeout=120, retries=3, retry_intervals=[10, 60, 300])
    def generate_embedding(memory_id: str) -> dict: ...

    enqueue(generate_embedding, str(memory.id), owner=memory.owner)
    enqueue(generate_embedding, str(memory.id), delay=60)           # or at=<datetime>

    @task(schedule=Cron("17 3 * * *"))                               # or Every(seconds=3600)
    def purge_jobs() -> dict: ...

Django-Q style: `enqueue` writes the `Job` row first and hands the job to RQ when the
transaction commits, with the row's UUID as the RQ job id; RQ only carries the id to a
worker, where `apps.jobs.runner.execute` runs the task and records every outcome on the row.
Arguments and results are JSON (never pickles), so the admin shows them as they are.
"""

import contextlib
import functools
import inspect
import json
import logging
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from importlib import import_module
from typing import Any, Protocol

import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from rq import Queue, Retry
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job as RQJob
from rq.job import JobStatus as RQStatus

from apps.core import pubsub
from apps.core.db import insert
from apps.core.exceptions import ServiceUnavailableError
from apps.core.logging import request_id_var
from apps.core.redis_clients import queue_redis
from apps.jobs import lifecycle
from apps.jobs.models import Job, JobStatus

logger = logging.getLogger("tanka.jobs")

DEFAULT_RETRIES = 3
DEFAULT_RETRY_INTERVALS = (10, 60, 300)
# RQ keeps its own copy of failures for the dashboard; the Job row keeps them for good.
RQ_FAILURE_TTL = int(timedelta(days=7).total_seconds())
QUEUE_UNAVAILABLE = "could not be queued: the task queue (Redis) is unavailable"


class TaskArgumentError(TypeError):
    """A task was enqueued with arguments it cannot take or that are not JSON."""


@dataclass(frozen=True, kw_only=True)
class _Declared:
    """What every schedule declared beside its task (`@task(schedule=...)`) may set."""

    name: str = ""
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    catch_up: str = "skip"
    allow_overlap: bool = False


@dataclass(frozen=True)
class Every(_Declared):
    """A declared schedule: every so many seconds."""

    seconds: int


@dataclass(frozen=True)
class Cron(_Declared):
    """A declared schedule: on a five-field cron expression in `timezone`."""

    expression: str
    timezone: str = "UTC"


@dataclass(frozen=True)
class Task:
    """A plain function registered with the engine, with how it should be run."""

    func: Callable[..., Any]
    name: str
    queue: str
    timeout: int
    retries: int
    retry_intervals: tuple[int, ...]
    # The task's database writes commit in one transaction with its `completed` status.
    atomic: bool = False
    schedule: Every | Cron | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    @property
    def path(self) -> str:
        """Import path of the function: a worker imports it if the registry lacks the name."""
        return f"{self.func.__module__}.{self.func.__qualname__}"

    def using(self, *, queue: str | None = None, timeout: int | None = None) -> "Task":
        """The same task with another queue or time limit for one enqueue."""
        if queue in (None, self.queue) and timeout in (None, self.timeout):
            return self
        changed = replace(
            self,
            queue=queue if queue is not None else self.queue,
            timeout=timeout if timeout is not None else self.timeout,
        )
        _validate(changed)
        return changed

    def check_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Fail at enqueue time, in the caller, rather than later in a worker."""
        try:
            _signature(self.func).bind(*args, **kwargs)
        except TypeError as exc:
            raise TaskArgumentError(f"task {self.name!r}: {exc}") from None
        labelled = [(f"argument {i}", value) for i, value in enumerate(args)]
        labelled += [(f"argument {key!r}", value) for key, value in kwargs.items()]
        for label, value in labelled:
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise TaskArgumentError(
                    f"task {self.name!r}: {label} is not JSON-serialisable "
                    f"({type(value).__name__}: {exc}); pass plain JSON values such as str(uuid)"
                ) from None


_registry: dict[str, Task] = {}
# A task's signature, read once: every enqueue checks its arguments against it.
_signature = functools.cache(inspect.signature)


def _validate(task_: Task) -> None:
    if task_.queue not in settings.RQ_QUEUES:
        raise ImproperlyConfigured(
            f"task {task_.name!r}: unknown queue {task_.queue!r}; "
            f"use one of {', '.join(settings.RQ_QUEUES)}"
        )
    if task_.timeout <= 0:
        raise ImproperlyConfigured(f"task {task_.name!r}: timeout must be positive")
    if task_.retries < 0 or any(interval < 0 for interval in task_.retry_intervals):
        raise ImproperlyConfigured(f"task {task_.name!r}: retries and intervals must be >= 0")


def task(
    func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    queue: str = "default",
    timeout: int | None = None,
    retries: int = DEFAULT_RETRIES,
    retry_intervals: Iterable[int] = DEFAULT_RETRY_INTERVALS,
    atomic: bool = False,
    schedule: Every | Cron | None = None,
) -> Any:
    """Register `func` as a task named `name` (default: the function's name).

    Works bare (`@task`) or with options. `timeout` is one attempt's time limit in seconds
    (default `RQ_DEFAULT_TIMEOUT`). `retries` counts tries after the first; the n-th retry
    waits `retry_intervals[n-1]` seconds (the last interval repeats).

    `schedule` declares a recurring run beside the task (`Every(seconds=...)` or
    `Cron("...")`): after `migrate` it is created or updated by name (the task's name unless
    it names itself) in the admin's schedules, never duplicated (`apps/jobs/schedules.py`).

    `atomic=True` runs the task in one database transaction that also records its
    `completed` status: an attempt that dies or is superseded (its worker killed, the job
    retried meanwhile) leaves none of its writes behind, so a retry never repeats them and
    each job's writes happen exactly once. Its progress is only seen at the end, and on
    SQLite it holds the write lock while it runs: keep such tasks short.
    """

    def register(function: Callable[..., Any]) -> Task:
        registered = Task(
            func=function,
            name=name or function.__name__,
            queue=queue,
            timeout=timeout if timeout is not None else settings.RQ_DEFAULT_TIMEOUT,
            retries=retries,
            retry_intervals=tuple(retry_intervals),
            atomic=atomic,
            schedule=schedule,
        )
        _validate(registered)
        existing = _registry.get(registered.name)
        if existing is not None and existing.path != registered.path:
            raise ImproperlyConfigured(
                f"task name {registered.name!r} is taken by {existing.path}; "
                f"give {registered.path} another name"
            )
        _registry[registered.name] = registered
        return registered

    return register(func) if func is not None else register


def get_task(name: str, path: str | None = None) -> Task:
    """The registered task `name`, importing `path` first when the registry lacks it."""
    if name not in _registry and path:
        try:
            import_module(path.rsplit(".", 1)[0])
        except ImportError:
            logger.warning("task %r: could not import %s", name, path)
    try:
        return _registry[name]
    except KeyError:
        raise LookupError(f"no task is registered as {name!r}") from None


def registered_tasks() -> dict[str, Task]:
    return dict(_registry)


def _resolve(task_or_name: Task | str) -> Task:
    if isinstance(task_or_name, Task):
        return task_or_name
    if isinstance(task_or_name, str):
        return get_task(task_or_name)
    raise TypeError(
        f"enqueue() takes a function decorated with @task or a task name, not {task_or_name!r}"
    )


def retry_intervals(intervals: tuple[int, ...], retries: int) -> list[int]:
    """The wait before each of `retries` retries, in order: the n-th retry waits
    `intervals[n-1]`, the last interval repeating. Given to RQ as a list exactly `retries`
    long, because RQ picks a retry's wait as `intervals[len(intervals) - retries_left]`
    (from the end), which matches that reading only then."""
    if not intervals:
        return [0] * retries
    return [intervals[min(n, len(intervals) - 1)] for n in range(retries)]


def _retry_for(job: Job, task_: Task) -> Retry | None:
    """RQ's retries for the tries the job has left: its task's budget, renewed by a manual
    retry (`max_retries` counts over the job's whole life, `attempts` what it used)."""
    left = job.max_retries - job.attempts
    if left <= 0:
        return None
    return Retry(max=left, interval=retry_intervals(task_.retry_intervals, left))


def enqueue(
    task_or_name: Task | str,
    *args: Any,
    owner: Any = None,
    robust: bool = False,
    at: datetime | None = None,
    delay: float | None = None,
    **kwargs: Any,
) -> Job:
    """Create the job's row (`pending`) and hand it to RQ when the transaction commits.

    Outside a transaction the hand-over happens before this returns. When Redis is down the
    row is marked `failed` with that reason and `ServiceUnavailableError` (503) is raised,
    at the commit, to the caller; with `robust=True` it is only logged, for writes that must
    succeed without the queue (the row still says why the job did not run).

    With `at` (an aware datetime) or `delay` (seconds) in the future, the row is written
    `scheduled` instead and nothing reaches Redis now: a scheduler releases it at its time
    (`apps/jobs/schedules.py`). `owner`, `robust`, `at` and `delay` are the engine's, so a
    task cannot take arguments of those names through `enqueue`.
    """
    task_ = _resolve(task_or_name)
    task_.check_arguments(args, kwargs)
    run_at = _run_at(at, delay)
    if run_at is not None:
        job = _create(task_, args, kwargs, owner, status=JobStatus.SCHEDULED, scheduled_for=run_at)
        lifecycle.announce(job)
        return job
    job = _create(task_, args, kwargs, owner, enqueued_at=timezone.now())
    lifecycle.announce(job)
    # A lambda, not a partial: Django names a robust callback by its __qualname__.
    transaction.on_commit(lambda: push(job, task_, first=True), robust=robust)
    return job


def _run_at(at: datetime | None, delay: float | None) -> datetime | None:
    """When a job asked for later should run; None for now (or a time already past)."""
    if at is not None and delay is not None:
        raise TypeError("enqueue() takes at= or delay=, not both")
    if delay is not None:
        if delay < 0:
            raise ValueError("enqueue(delay=...) must be at least 0 seconds")
        at = timezone.now() + timedelta(seconds=delay)
    if at is None:
        return None
    if timezone.is_naive(at):
        raise ValueError("enqueue(at=...) needs an aware datetime")
    return at if at > timezone.now() else None


def _create(
    task_: Task, args: Iterable[Any], kwargs: dict[str, Any], owner: Any, **fields: Any
) -> Job:
    request_id = request_id_var.get()
    # One INSERT needs no transaction (nor, inside the caller's, a savepoint): the hand-over
    # waits for whichever commit makes the row visible. `enqueued_at`, when given, is the
    # hand-over at the commit, a moment from now; cleared if that fails.
    return insert(
        Job(
            name=task_.name,
            queue=task_.queue,
            args=list(args),
            kwargs=kwargs,
            owner=owner,
            request_id="" if request_id == "-" else request_id,
            max_retries=task_.retries,
            timeout=task_.timeout,
            **fields,
        )
    )


def push(job: Job, task_: Task | None = None, *, first: bool = False) -> None:
    """Put a `pending` row's job on its RQ queue (replacing any older RQ copy of it).

    `first` is the hand-over `enqueue` makes: no older copy exists, and the row was written
    with its `enqueued_at`, so it costs one trip to Redis (events included) and no database
    write.

    Raises `ServiceUnavailableError` after marking the row `failed` when Redis is down.
    """
    task_ = task_ or get_task(job.name)
    if not first:
        lifecycle.stamp_handed_over(job)
    job_id = str(job.id)
    try:
        connection = queue_redis()
        if not first:
            with contextlib.suppress(NoSuchJobError):
                RQJob.fetch(job_id, connection=connection).delete()
        with connection.pipeline() as pipeline:
            Queue(job.queue, connection=connection).enqueue_call(
                func="apps.jobs.runner.execute",
                args=(job_id, task_.path),
                job_id=job_id,
                timeout=job.timeout,
                retry=_retry_for(job, task_),
                meta={"task": job.name, "request_id": job.request_id},
                description=job.name,
                failure_ttl=RQ_FAILURE_TTL,
                pipeline=pipeline,
            )
            # The job's own event (and any other waiting) leaves in the same round trip.
            pubsub.add_batched(pipeline)
            pipeline.execute()
    except redis.RedisError as exc:
        logger.error("job %s (%s) could not be queued: %s", job_id, job.name, exc)
        lifecycle.fail_unqueued(job, reason=QUEUE_UNAVAILABLE)
        raise ServiceUnavailableError(
            "The task queue is unavailable, so the job was not queued. Try again shortly."
        ) from exc


def remove_from_queue(job_id: Any) -> None:
    """Take a cancelled job off RQ (queue or retry schedule), and stop it if a worker has just
    taken it (a short job's row says `pending` while it runs); best effort, since the runner
    also refuses to run, and drops the outcome of, a job whose row is no longer pending."""
    try:
        with contextlib.suppress(NoSuchJobError, InvalidJobOperation):
            rq_job = RQJob.fetch(str(job_id), connection=queue_redis())
            if rq_job.get_status(refresh=False) == RQStatus.STARTED:
                stop_running(job_id)
            elif not rq_job.is_canceled:
                rq_job.cancel()
    except redis.RedisError as exc:
        logger.warning("job %s cancelled but not removed from its queue: %s", job_id, exc)


def stop_running(job_id: Any) -> None:
    """Ask the worker running the job to stop it: RQ's stop-job command, over the pub/sub
    channel every worker listens to. The worker interrupts the task and records the job
    `cancelled` (`apps/jobs/worker.py`); the reconciliation sends the command again for a
    job still running after it (`apps/jobs/reconcile.py`)."""
    try:
        with contextlib.suppress(NoSuchJobError, InvalidJobOperation):
            send_stop_job_command(queue_redis(), str(job_id))
    except redis.RedisError as exc:
        logger.warning("job %s: the stop could not be sent: %s", job_id, exc)


class RunningAttempt(Protocol):
    """What a task's helpers need of the attempt running it (`apps.jobs.runner.Attempt`)."""

    job: Job
    is_final: bool

    def claim(self) -> bool: ...


# The attempt the current worker process is running, for the helpers below.
current_attempt: ContextVar[RunningAttempt | None] = ContextVar("current_attempt", default=None)


def current_job_id() -> str | None:
    """The id of the job whose task is running here; None outside a job."""
    attempt = current_attempt.get()
    return None if attempt is None else str(attempt.job.pk)


def set_progress(percent: float) -> None:
    """Record how far the running task is (0-100). Outside a job (a task called directly)
    it does nothing, so tasks stay plain functions. A task that reports progress is a long
    one: its row is marked `running` first."""
    attempt = current_attempt.get()
    value = max(0, min(100, int(percent)))
    if attempt is None or value == attempt.job.progress or not attempt.claim():
        return
    lifecycle.set_progress(attempt.job, value)


def is_final_attempt() -> bool:
    """Whether the running task's current try is its last (no retry follows a failure).
    Outside a job it is True: a direct call is the only try there is."""
    attempt = current_attempt.get()
    return attempt is None or attempt.is_final
