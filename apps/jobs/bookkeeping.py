"""RQ's bookkeeping around each job a worker runs, written in one Redis command each way.

Around every job RQ writes about a dozen commands: before it, the execution record and the
registries that list it, the job's start, the worker's state and heartbeat; after it, their
removal and the worker's counters. Packed, sent and parsed one by one, those cost a short job's
worker about a third of its CPU (bench/RESULTS.md, "The worker's bookkeeping"). The scripts
below make the same writes, to the same keys with the same values, in one EVAL each, so RQ's
maintenance, its dashboard and our reconciliation find exactly what RQ itself would have left.
`apps/jobs/tests/test_bookkeeping.py` compares the two on a real Redis: an RQ release that
changes its layout (rq is pinned in requirements/base.txt) fails there first.

EVAL rather than EVALSHA: the end of a job is sent in a pipeline with its events, and a
pipeline that runs a registered script first asks Redis whether it knows it, a round trip of
its own.
"""

from typing import TYPE_CHECKING, Any
from uuid import uuid4

from rq.executions import Execution, ExecutionRegistry
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.utils import current_timestamp, now, utcformat
from rq.worker import WorkerStatus

if TYPE_CHECKING:
    from rq.worker import BaseWorker

# RQ's Execution.create, StartedJobRegistry.add_execution, Job.prepare_for_execution with
# the job's PERSIST, the worker's BUSY state and its heartbeat (BaseWorker.heartbeat).
_START = """
local execution_id, job_id, worker_name = ARGV[1], ARGV[2], ARGV[3]
local created, ttl, score, beat = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
local composite = job_id .. ':' .. execution_id
redis.call('HSET', KEYS[1], 'id', execution_id, 'job_id', job_id, 'created_at', created,
    'last_heartbeat', created, 'worker_name', worker_name)
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], score + 60, execution_id)
redis.call('EXPIRE', KEYS[2], ttl + 60)
redis.call('ZADD', KEYS[3], score, composite)
redis.call('SADD', KEYS[4], composite)
redis.call('HSET', KEYS[6], 'last_heartbeat', beat, 'status', ARGV[8], 'started_at', beat,
    'worker_name', worker_name)
redis.call('PERSIST', KEYS[6])
if KEYS[7] then redis.call('LREM', KEYS[7], 1, job_id) end
redis.call('HSET', KEYS[5], 'state', ARGV[9], 'last_heartbeat', beat)
redis.call('EXPIRE', KEYS[5], ttl)
redis.call('EXPIRE', KEYS[4], ttl)
"""

# RQ's success path for a job whose result it does not keep: the worker's counters, the
# execution's removal (Execution.delete), the job's keys, the worker's IDLE state and its
# heartbeat.
_FINISH = """
local execution_id, job_id = ARGV[1], ARGV[2]
local composite = job_id .. ':' .. execution_id
redis.call('HINCRBY', KEYS[1], 'successful_job_count', 1)
redis.call('HINCRBYFLOAT', KEYS[1], 'total_working_time', ARGV[3])
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], composite)
redis.call('ZREM', KEYS[4], execution_id)
redis.call('SREM', KEYS[5], composite)
redis.call('DEL', KEYS[6], KEYS[7], KEYS[8])
redis.call('HSET', KEYS[1], 'state', ARGV[4], 'last_heartbeat', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('EXPIRE', KEYS[5], ARGV[6])
"""


def _started_registry_key(job: Job) -> str:
    """`job.started_job_registry.key`, without building the registry (and resolving its
    serializer) on every job."""
    return StartedJobRegistry.key_template.format(job.origin)


def start(
    worker: "BaseWorker", job: Job, *, ttl: int, intermediate_key: str | None = None
) -> Execution:
    """Record that `worker` starts `job` now, for `ttl` seconds until its next heartbeat;
    `intermediate_key` is the list RQ's blocking pop parked the job in, if any. The worker and
    the job take the values RQ would have given them."""
    execution = Execution(uuid4().hex, job.id, job.connection, worker_name=worker.name)
    execution._job = job
    job.worker_name = worker.name
    job.last_heartbeat = job.started_at = worker.last_heartbeat = now()
    job._status = JobStatus.STARTED
    beat = utcformat(job.last_heartbeat)
    keys = [
        execution.key,
        ExecutionRegistry(job.id, job.connection).key,
        _started_registry_key(job),
        execution.worker_executions_key,
        worker.key,
        job.key,
    ]
    if intermediate_key:
        keys.append(intermediate_key)
    worker.connection.eval(
        _START,
        len(keys),
        *keys,
        execution.id,
        job.id,
        worker.name,
        repr(execution.created_at.timestamp()),
        ttl,
        current_timestamp() + ttl,
        beat,
        JobStatus.STARTED,
        WorkerStatus.BUSY,
    )
    worker._state = WorkerStatus.BUSY
    worker.executions[execution.id] = execution
    return execution


def finish(worker: "BaseWorker", job: Job, execution: Execution, pipeline: Any) -> None:
    """Add to `pipeline` the end of `job`'s successful execution: what `start` wrote goes,
    with the job's own keys (the Job row keeps its result), and the worker is idle again."""
    worker.last_heartbeat = now()
    keys = [
        worker.key,
        execution.key,
        _started_registry_key(job),
        ExecutionRegistry(job.id, job.connection).key,
        execution.worker_executions_key,
        job.key,
        job.dependents_key,
        job.dependencies_key,
    ]
    pipeline.eval(
        _FINISH,
        len(keys),
        *keys,
        execution.id,
        job.id,
        repr((job.ended_at - job.started_at).total_seconds()),
        WorkerStatus.IDLE,
        utcformat(worker.last_heartbeat),
        worker.worker_ttl + 60,
    )
    worker._state = WorkerStatus.IDLE
    worker.executions.pop(execution.id, None)
