"""The worker's scripted bookkeeping (apps/jobs/bookkeeping.py) leaves Redis exactly as RQ's
own calls do, before a job and after it, so RQ's maintenance, its dashboard and the
reconciliation read the same keys whichever wrote them."""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
import redis
import rq.executions
import rq.job
import rq.queue
import rq.utils
import rq.worker.base
from django.conf import settings
from rq import Queue
from rq.executions import Execution
from rq.job import JobStatus
from rq.worker import WorkerStatus

from apps.jobs import bookkeeping
from apps.jobs.worker import TankaWorker

FROZEN = datetime(2026, 12, 4, 12, 0, 0, 123456, tzinfo=UTC)
TTL = 120


@pytest.fixture
def connection(monkeypatch):
    """A queue Redis in which RQ's clock and its execution ids stand still, so two runs of the
    same steps write the same values."""
    for module in (rq.utils, rq.executions, rq.job, rq.queue, rq.worker.base, bookkeeping):
        monkeypatch.setattr(module, "now", lambda: FROZEN)
    for module in (rq.executions, bookkeeping):
        monkeypatch.setattr(module, "uuid4", lambda: UUID(int=7))
    client = redis.Redis.from_url(settings.REDIS_QUEUE_URL)
    yield client
    client.flushdb()
    client.close()


def snapshot(connection: redis.Redis) -> dict[bytes, Any]:
    """Every key with its type, its content and its time to live (in whole seconds, -1 for
    none)."""
    content = {
        b"hash": connection.hgetall,
        b"zset": lambda key: connection.zrange(key, 0, -1, withscores=True),
        b"set": connection.smembers,
        b"list": lambda key: connection.lrange(key, 0, -1),
        b"string": connection.get,
    }
    state = {}
    for key in sorted(connection.keys("*")):
        kind = connection.type(key)
        ttl = connection.pttl(key)
        state[key] = (kind, content[kind](key), ttl if ttl < 0 else round(ttl / 1000))
    return state


def a_job_taken_by_a_worker(connection: redis.Redis) -> tuple[TankaWorker, rq.job.Job]:
    """A registered worker on one queue, and a job its blocking pop has just parked in the
    queue's intermediate list."""
    connection.flushdb()
    queue = Queue("default", connection=connection)
    job = queue.enqueue_call(
        func="apps.jobs.runner.execute", args=("j1", "x.y"), job_id="j1", ttl=600
    )
    connection.lrem(queue.key, 1, job.id)
    connection.rpush(queue.intermediate_queue_key, job.id)
    worker = TankaWorker(["default"], connection=connection, name="w1")
    worker.register_birth()
    return worker, job


def rq_start(worker: TankaWorker, job: rq.job.Job) -> Execution:
    """RQ's own writes before a job (BaseWorker.prepare_execution and the job's start)."""
    with worker.connection.pipeline() as pipeline:
        execution = Execution.create(job, TTL, pipeline=pipeline, worker_name=worker.name)
        worker.executions[execution.id] = execution
        rq.worker.base.BaseWorker.set_state(worker, WorkerStatus.BUSY, pipeline=pipeline)
        job.prepare_for_execution(worker.name, pipeline=pipeline)
        pipeline.persist(job.key)
        pipeline.lrem(worker.queues[0].intermediate_queue_key, 1, job.id)
        rq.worker.base.BaseWorker.heartbeat(worker, TTL, pipeline=pipeline)
        pipeline.execute()
    return execution


def rq_finish(worker: TankaWorker, job: rq.job.Job, execution: Execution) -> None:
    """RQ's own writes after a job that succeeded, its result not kept."""
    with worker.connection.pipeline() as pipeline:
        worker.increment_successful_job_count(pipeline=pipeline)
        worker.increment_total_working_time(job.ended_at - job.started_at, pipeline)
        worker.cleanup_execution(job, pipeline=pipeline, execution=execution)
        pipeline.delete(job.key, job.dependents_key, job.dependencies_key)
        rq.worker.base.BaseWorker.set_state(worker, WorkerStatus.IDLE, pipeline=pipeline)
        rq.worker.base.BaseWorker.heartbeat(worker, None, pipeline=pipeline)
        pipeline.execute()


def scripted_start(worker: TankaWorker, job: rq.job.Job) -> Execution:
    return bookkeeping.start(
        worker, job, ttl=TTL, intermediate_key=worker.queues[0].intermediate_queue_key
    )


def scripted_finish(worker: TankaWorker, job: rq.job.Job, execution: Execution) -> None:
    with worker.connection.pipeline(transaction=False) as pipeline:
        bookkeeping.finish(worker, job, execution, pipeline)
        pipeline.execute()


def run(connection: redis.Redis, start: Any, finish: Any) -> tuple[dict, dict, dict]:
    worker, job = a_job_taken_by_a_worker(connection)
    execution = start(worker, job)
    started = snapshot(connection)
    seen = {
        "worker": (worker.get_state(), list(worker.executions), worker.last_heartbeat),
        "job": (job.get_status(refresh=False), job.worker_name, job.started_at),
    }
    job.ended_at = job.started_at + timedelta(milliseconds=250)
    finish(worker, job, execution)
    seen["after"] = (worker.get_state(), list(worker.executions))
    return started, snapshot(connection), seen


def test_scripted_bookkeeping_writes_what_rqs_own_writes(connection):
    rq_started, rq_finished, rq_seen = run(connection, rq_start, rq_finish)
    started, finished, seen = run(connection, scripted_start, scripted_finish)

    assert started == rq_started
    assert finished == rq_finished
    assert seen == rq_seen
    # What the comparison covered: the job running, listed where RQ looks for it...
    composite = f"j1:{UUID(int=7).hex}".encode()
    assert started[b"rq:wip:default"][1] == [(composite, FROZEN.timestamp() // 1 + TTL)]
    assert started[b"rq:job:j1"][1][b"status"] == b"started"
    assert started[b"rq:job:j1"][2] == -1  # persisted
    assert started[b"rq:worker:w1"][1][b"state"] == b"busy"
    assert started[b"rq:worker:w1:executions"] == (b"set", {composite}, TTL)
    assert b"rq:queue:default:intermediate" not in started
    # ... and after it, nothing of the job left but the worker's counters.
    assert not any(key.startswith((b"rq:job:", b"rq:execution")) for key in finished)
    assert b"rq:wip:default" not in finished
    worker = finished[b"rq:worker:w1"][1]
    assert (worker[b"state"], worker[b"successful_job_count"]) == (b"idle", b"1")
    assert worker[b"total_working_time"] == b"0.25"
    assert seen["job"][0] == JobStatus.STARTED
