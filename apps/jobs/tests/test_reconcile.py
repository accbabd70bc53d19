"""The reconciliation: running rows whose worker died, pending rows the queue lost."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from rq import Queue, Worker
from rq.executions import Execution
from rq.job import Job as RQJob
from rq.job import JobStatus as RQStatus

from apps.core.redis_clients import queue_redis
from apps.jobs.engine import enqueue
from apps.jobs.models import Job
from apps.jobs.reconcile import reconcile, reconcile_if_due, stale_after
from apps.jobs.services import job_test_start
from apps.jobs.tests import tasks as test_tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(user, django_capture_on_commit_callbacks):
    """Enqueue a job; return (row, its RQ job)."""

    def make(task=None, *args):
        with django_capture_on_commit_callbacks(execute=True):
            if task is None:
                job = job_test_start(owner=user, duration=5)
            else:
                job = enqueue(task, *args, owner=user)
        return job, RQJob.fetch(str(job.id), connection=queue_redis())

    return make


def start_on(row: Job, rq_job: RQJob, worker_name: str, *, attempts: int = 1) -> None:
    """Put row and RQ job in the state a worker leaves them in mid-run."""
    Queue(rq_job.origin, connection=queue_redis()).remove(rq_job)
    rq_job.set_status(RQStatus.STARTED)
    Job.objects.filter(pk=row.pk).update(
        status="running",
        attempts=attempts,
        worker_name=worker_name,
        started_at=timezone.now() - timedelta(seconds=600),
    )


def test_running_job_of_a_vanished_worker_is_retried_while_retries_are_left(queued):
    row, rq_job = queued()
    start_on(row, rq_job, "ghost-worker")

    report = reconcile()

    row.refresh_from_db()
    assert report.retried == [str(row.id)]
    assert (row.status, row.attempts, row.completed_at) == ("pending", 1, None)
    assert row.error.startswith("the worker running this job died (worker ghost-worker is gone)")
    rq_job.refresh()
    assert rq_job.get_status() == RQStatus.SCHEDULED
    assert rq_job.retries_left == 1


def test_running_job_of_a_vanished_worker_fails_when_no_retry_is_left(queued):
    row, rq_job = queued(test_tasks.adds, 1)
    start_on(row, rq_job, "ghost-worker")

    report = reconcile()

    row.refresh_from_db()
    assert report.failed == [str(row.id)]
    assert row.status == "failed"
    assert "worker ghost-worker is gone" in row.error
    assert row.completed_at is not None
    assert rq_job.get_status() == RQStatus.FAILED


def test_running_job_of_a_worker_that_stopped_heartbeating_is_recovered(queued, settings):
    row, rq_job = queued(test_tasks.adds, 1)
    worker = Worker(["default"], connection=queue_redis(), name="silent-worker")
    worker.register_birth()
    worker.prepare_execution(rq_job)
    start_on(row, rq_job, "silent-worker")

    later = timezone.now() + timedelta(seconds=settings.JOBS_WORKER_LOST_AFTER)
    reconcile(now=later)

    row.refresh_from_db()
    assert row.status == "failed"
    assert "silent-worker stopped sending heartbeats" in row.error


def test_running_job_of_a_live_worker_is_left_alone(queued):
    row, rq_job = queued(test_tasks.adds, 1)
    worker = Worker(["default"], connection=queue_redis(), name="busy-worker")
    worker.register_birth()
    worker.prepare_execution(rq_job)
    start_on(row, rq_job, "busy-worker")

    assert not reconcile()

    row.refresh_from_db()
    assert row.status == "running"


def test_running_job_a_live_worker_no_longer_runs_is_recovered(queued):
    row, rq_job = queued(test_tasks.adds, 1)
    Worker(["default"], connection=queue_redis(), name="idle-worker").register_birth()
    start_on(row, rq_job, "idle-worker")

    reconcile()

    row.refresh_from_db()
    assert row.status == "failed"
    assert "idle-worker is no longer running this job" in row.error


def test_pending_job_the_queue_lost_is_queued_again(queued):
    row, rq_job = queued()
    rq_job.delete()
    Job.objects.filter(pk=row.pk).update(enqueued_at=timezone.now() - timedelta(hours=1))

    report = reconcile()

    assert report.requeued == [str(row.id)]
    assert str(row.id) in Queue("default", connection=queue_redis()).job_ids
    row.refresh_from_db()
    assert row.status == "pending"


def test_recent_pending_job_is_given_time_to_reach_the_queue(queued):
    row, rq_job = queued()
    rq_job.delete()

    assert not reconcile()
    assert Queue("default", connection=queue_redis()).count == 0


def test_pending_job_the_queue_gave_up_on_is_failed(queued):
    row, rq_job = queued()
    rq_job.set_status(RQStatus.FAILED)
    Job.objects.filter(pk=row.pk).update(enqueued_at=timezone.now() - timedelta(hours=1))

    reconcile()

    row.refresh_from_db()
    assert row.status == "failed"
    assert "dropped" in row.error


def test_only_one_pass_runs_per_period():
    connection = queue_redis()
    assert reconcile_if_due(connection) is not None
    assert reconcile_if_due(connection) is None


def test_reconcile_jobs_command_runs_one_pass(queued, capsys):
    row, rq_job = queued(test_tasks.adds, 1)
    start_on(row, rq_job, "ghost-worker")

    call_command("reconcile_jobs")

    assert "retried 0, failed 1, queued again 0" in capsys.readouterr().out
    row.refresh_from_db()
    assert row.status == "failed"


def test_job_a_worker_dequeued_but_never_started_is_queued_again_on_a_later_pass(queued):
    row, rq_job = queued()
    queue = Queue("default", connection=queue_redis())
    # What a worker stopped between RQ's dequeue and the job's start leaves behind.
    queue_redis().lmove(queue.key, queue.intermediate_queue.key)
    Job.objects.filter(pk=row.pk).update(enqueued_at=timezone.now() - timedelta(hours=1))

    first = reconcile()
    later = reconcile(now=timezone.now() + timedelta(minutes=5))

    assert not first
    assert later.requeued == [str(row.id)]
    assert queue.job_ids == [str(row.id)]
    assert queue_redis().llen(queue.intermediate_queue.key) == 0


def test_job_a_worker_popped_from_several_queues_but_never_started_is_queued_again(queued):
    row, rq_job = queued()
    queue = Queue("default", connection=queue_redis())
    # A worker on several queues takes a job with BLPOP: stopped before the job's execution
    # is recorded, it leaves the job in no list at all, still "queued" for RQ.
    assert queue_redis().lpop(queue.key).decode() == str(row.id)
    Job.objects.filter(pk=row.pk).update(enqueued_at=timezone.now() - timedelta(hours=1))

    first = reconcile()
    too_soon = reconcile(now=timezone.now() + timedelta(seconds=1))
    later = reconcile(now=timezone.now() + timedelta(minutes=5))

    assert not first and not too_soon
    assert later.requeued == [str(row.id)]
    assert queue.job_ids == [str(row.id)]


def test_job_a_killed_worker_took_but_never_started_is_queued_again(queued):
    row, rq_job = queued()
    queue = Queue("default", connection=queue_redis())
    queue.remove(rq_job)
    # The execution a worker records before forking the job's process, by a worker now gone.
    with queue_redis().pipeline() as pipeline:
        Execution.create(rq_job, ttl=600, pipeline=pipeline, worker_name="ghost-worker")
        pipeline.execute()
    Job.objects.filter(pk=row.pk).update(enqueued_at=timezone.now() - timedelta(hours=1))

    reconcile()
    later = reconcile(now=timezone.now() + timedelta(minutes=5))

    assert later.requeued == [str(row.id)]
    assert queue.job_ids == [str(row.id)]
    assert queue.started_job_registry.get_job_ids(cleanup=False) == []


def test_job_a_live_worker_took_and_is_starting_is_left_alone(queued):
    row, rq_job = queued()
    queue = Queue("default", connection=queue_redis())
    queue.remove(rq_job)
    worker = Worker([queue], connection=queue_redis(), name="busy-worker")
    worker.register_birth()
    with queue_redis().pipeline() as pipeline:
        Execution.create(rq_job, ttl=600, pipeline=pipeline, worker_name=worker.name)
        pipeline.execute()
    Job.objects.filter(pk=row.pk).update(enqueued_at=timezone.now() - timedelta(hours=1))

    reconcile()
    later = reconcile(now=timezone.now() + timedelta(seconds=stale_after() + 1))

    assert not later
    assert queue.job_ids == []
    row.refresh_from_db()
    assert row.status == "pending"


def test_job_waiting_on_its_queue_is_never_taken_for_lost(queued):
    row, rq_job = queued()
    Job.objects.filter(pk=row.pk).update(enqueued_at=timezone.now() - timedelta(hours=1))

    reports = [reconcile(now=timezone.now() + timedelta(minutes=m)) for m in (0, 5, 10)]

    assert not any(reports)
    assert Queue("default", connection=queue_redis()).job_ids == [str(row.id)]


def test_job_retried_by_hand_is_not_failed_by_a_pass_before_its_hand_over(
    queued, django_capture_on_commit_callbacks
):
    from apps.jobs.services import job_retry

    row, rq_job = queued()
    long_ago = timezone.now() - timedelta(seconds=10 * stale_after())
    rq_job.set_status(RQStatus.FAILED)
    Job.objects.filter(pk=row.pk).update(
        status="failed", created_at=long_ago, enqueued_at=long_ago, completed_at=long_ago
    )
    row.refresh_from_db()

    with django_capture_on_commit_callbacks() as hand_over:
        job_retry(job=row)
    # A reconciliation pass sees the reopened row before the push replaced its failed RQ copy.
    report = reconcile()
    for callback in hand_over:
        callback()

    row.refresh_from_db()
    assert str(row.id) not in report.failed
    assert row.status == "pending"
    assert RQJob.fetch(str(row.id), connection=queue_redis()).get_status() == RQStatus.QUEUED


def test_orphaned_job_of_a_task_this_process_has_not_imported_is_queued_again(queued, monkeypatch):
    import sys

    from apps.jobs import engine

    row, rq_job = queued(test_tasks.adds, 1)
    queue = Queue("default", connection=queue_redis())
    assert queue_redis().lpop(queue.key).decode() == str(row.id)
    Job.objects.filter(pk=row.pk).update(enqueued_at=timezone.now() - timedelta(hours=1))
    # The scheduler process that reconciles may never have imported the task's module.
    monkeypatch.setattr(engine, "_registry", {})
    monkeypatch.delitem(sys.modules, test_tasks.__name__)

    reconcile()
    later = reconcile(now=timezone.now() + timedelta(minutes=5))

    assert later.requeued == [str(row.id)]
    assert queue.job_ids == [str(row.id)]


def _started_by_a_dead_worker(row: Job, rq_job: RQJob) -> None:
    """A short job's state when its worker died mid-run: the row still `pending`, RQ's copy
    started by a worker that is gone."""
    Queue(rq_job.origin, connection=queue_redis()).remove(rq_job)
    with queue_redis().pipeline() as pipeline:
        Execution.create(rq_job, ttl=600, pipeline=pipeline, worker_name="ghost-worker")
        rq_job.prepare_for_execution("ghost-worker", pipeline=pipeline)
        pipeline.execute()
    Job.objects.filter(pk=row.pk).update(enqueued_at=timezone.now() - timedelta(hours=1))


def test_short_job_whose_worker_died_mid_run_is_retried_and_the_attempt_counts(queued):
    row, rq_job = queued()
    _started_by_a_dead_worker(row, rq_job)

    reconcile()
    later = reconcile(now=timezone.now() + timedelta(minutes=5))

    row.refresh_from_db()
    assert later.retried == [str(row.id)]
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.error == "the worker running this job died before it ended; retrying"
    assert rq_job.get_status(refresh=True) in (RQStatus.SCHEDULED, RQStatus.QUEUED)


def test_short_job_whose_worker_died_mid_run_fails_when_no_retry_is_left(queued):
    row, rq_job = queued(test_tasks.adds, 1)
    _started_by_a_dead_worker(row, rq_job)

    reconcile()
    later = reconcile(now=timezone.now() + timedelta(minutes=5))

    row.refresh_from_db()
    assert later.failed == [str(row.id)]
    assert (row.status, row.attempts) == ("failed", 1)
    assert rq_job.get_status(refresh=True) == RQStatus.FAILED
