"""A worker takes jobs in queue order, none skipped or taken twice, whether it pops a waiting
job with its hash in one round trip or, having found its queues empty last time, blocks at
once (apps/jobs/worker.py, TankaQueue)."""

import pytest
import redis
from django.conf import settings
from rq import Queue

from apps.jobs import worker
from apps.jobs.worker import TankaQueue, TankaWorker


@pytest.fixture
def connection(monkeypatch):
    monkeypatch.setattr(worker._LastDequeue, "ran_dry", False)
    monkeypatch.setattr(worker._LastDequeue, "keys", [])
    client = redis.Redis.from_url(settings.REDIS_QUEUE_URL)
    yield client
    client.close()


@pytest.fixture
def queues(connection):
    return [Queue(name, connection=connection) for name in ("high_priority", "default")]


def put(queue: Queue, job_id: str) -> None:
    queue.enqueue_call(func="apps.jobs.runner.execute", args=(job_id, "x.y"), job_id=job_id)


def take(queues, connection, timeout: int | None = 1) -> str | None:
    taken = TankaQueue.dequeue_any(queues, timeout, connection=connection)
    return None if taken is None else taken[0].id


def test_waiting_jobs_are_popped_in_queue_order_until_none_is_left(queues, connection):
    high, default = queues
    put(default, "d1")
    put(default, "d2")
    put(high, "h1")

    assert take(queues, connection) == "h1"
    assert not worker._LastDequeue.ran_dry
    assert [take(queues, connection), take(queues, connection)] == ["d1", "d2"]
    # The last one left nothing behind it: the next dequeue will block at once.
    assert worker._LastDequeue.ran_dry


def test_after_the_queues_ran_dry_the_worker_blocks_then_pops_again_while_jobs_wait(
    queues, connection
):
    high, default = queues
    worker._LastDequeue.ran_dry = True
    put(default, "d1")
    put(high, "h1")
    put(default, "d2")

    assert take(queues, connection) == "h1"
    # Jobs were seen waiting behind it: back to the one-trip pop.
    assert not worker._LastDequeue.ran_dry
    assert [take(queues, connection), take(queues, connection)] == ["d1", "d2"]
    assert worker._LastDequeue.ran_dry
    assert take(queues, connection, timeout=None) is None


@pytest.mark.parametrize("ran_dry", [False, True])
def test_a_job_whose_hash_is_gone_is_skipped_either_way(queues, connection, ran_dry):
    _, default = queues
    worker._LastDequeue.ran_dry = ran_dry
    put(default, "gone")
    put(default, "kept")
    connection.delete("rq:job:gone")

    assert take(queues, connection) == "kept"
    assert take(queues, connection, timeout=None) is None


def test_a_worker_on_one_queue_leaves_nothing_of_its_job_in_the_intermediate_list(connection):
    """On one queue RQ's blocking pop parks the job in the queue's intermediate list; left
    there, RQ's maintenance would later take it for a job lost between pop and start."""
    queue = Queue("default", connection=connection)
    worker._LastDequeue.ran_dry = True
    put(queue, "j1")

    job, _ = TankaQueue.dequeue_any([queue], 1, connection=connection)
    assert connection.lrange(queue.intermediate_queue_key, 0, -1) == [b"j1"]
    TankaWorker(["default"], connection=connection).prepare_execution(job)

    assert connection.lrange(queue.intermediate_queue_key, 0, -1) == []
