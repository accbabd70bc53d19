"""The engine end to end in this process: enqueue, a real RQ worker (burst), the Job row."""

from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from rq import Queue
from rq.job import Job as RQJob

from apps.core.exceptions import ServiceUnavailableError
from apps.core.logging import request_id_var
from apps.core.redis_clients import queue_redis
from apps.jobs import engine
from apps.jobs.engine import TaskArgumentError, enqueue, set_progress, task
from apps.jobs.models import Job
from apps.jobs.services import job_retry, job_test_start
from apps.jobs.tasks import self_test
from apps.jobs.tests import tasks as test_tasks

pytestmark = pytest.mark.django_db


def test_enqueue_writes_a_pending_row_and_queues_it_under_the_same_id(
    user, django_capture_on_commit_callbacks
):
    token = request_id_var.set("req-engine-1")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            job = enqueue(test_tasks.adds, 2, b=3, owner=user)
    finally:
        request_id_var.reset(token)

    job.refresh_from_db()
    assert (job.status, job.name, job.queue) == ("pending", "tests.adds", "default")
    assert (job.owner, job.attempts, job.request_id) == (user, 0, "req-engine-1")
    assert (job.args, job.kwargs) == ([2], {"b": 3})
    assert job.enqueued_at is not None
    rq_job = RQJob.fetch(str(job.id), connection=queue_redis())
    assert rq_job.get_status() == "queued"
    assert rq_job.meta["request_id"] == "req-engine-1"
    assert str(job.id) in Queue("default", connection=queue_redis()).job_ids


def test_nothing_is_queued_before_the_commit(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        enqueue(test_tasks.adds, 1, owner=user)
    assert callbacks, "the hand-over to RQ waits for the commit"
    assert Queue("default", connection=queue_redis()).count == 0


def test_successful_job_runs_through_its_whole_lifecycle(
    user, run_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = job_test_start(owner=user, duration=0.3, payload={"answer": 42})
    run_jobs()

    job.refresh_from_db()
    assert job.status == "completed"
    assert job.result == {"answer": 42}
    assert (job.attempts, job.progress, job.error, job.traceback) == (1, 100, "", "")
    assert job.worker_name
    # Written with the row, handed over at its commit.
    assert abs(job.enqueued_at - job.created_at) < timedelta(seconds=1)
    assert job.created_at <= job.started_at <= job.completed_at
    assert job.duration.total_seconds() >= 0.3


def test_a_task_reports_progress_while_it_runs(user, run_jobs, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = enqueue(test_tasks.reports_progress, "placeholder", owner=user)
    Job.objects.filter(pk=job.pk).update(args=[str(job.id)])
    run_jobs()

    job.refresh_from_db()
    assert job.result == {"progress": 40, "status_while_running": True}
    assert job.progress == 100


def test_set_progress_outside_a_job_does_nothing():
    set_progress(50)


def test_failing_job_is_retried_then_failed_with_a_one_line_error_and_the_traceback(
    user, run_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = enqueue(test_tasks.always_fails, "boom", owner=user)
    run_jobs()

    job.refresh_from_db()
    assert job.status == "failed"
    assert job.attempts == 3
    assert job.error == "ValueError: boom second line of the message"
    assert "\n" not in job.error
    assert "Traceback (most recent call last)" in job.traceback
    assert "raise ValueError" in job.traceback
    assert job.completed_at is not None


def test_job_over_its_time_limit_fails_as_timed_out(
    user, run_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = enqueue(test_tasks.sleeps, 10, owner=user)
    run_jobs()

    job.refresh_from_db()
    assert (job.status, job.error, job.attempts) == ("failed", "timed out after 1 s", 1)


def test_a_result_that_is_not_json_fails_the_job(
    user, run_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = enqueue(test_tasks.returns_object, owner=user)
    run_jobs()

    job.refresh_from_db()
    assert job.status == "failed"
    assert job.error.startswith("TypeError: Object of type object is not JSON serializable")


def test_a_cancelled_job_that_reaches_a_worker_is_not_run(
    user, run_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = job_test_start(owner=user, payload={"ran": True})
    Job.objects.filter(pk=job.pk).update(status="cancelled")
    run_jobs()

    job.refresh_from_db()
    assert (job.status, job.attempts, job.result) == ("cancelled", 0, None)


def test_queue_priority_runs_high_priority_jobs_first(
    user, run_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        low = [job_test_start(owner=user, queue="low_priority") for _ in range(3)]
        high = job_test_start(owner=user, queue="high_priority")
    run_jobs()

    starts = {job.pk: job.started_at for job in Job.objects.all()}
    assert all(starts[high.pk] < starts[job.pk] for job in low)


@pytest.mark.django_db(transaction=True)
def test_every_change_of_a_job_is_published_to_its_owner(user, run_jobs, subscribe):
    subscriber = subscribe(user.id)
    job = job_test_start(owner=user, duration=0.6)
    run_jobs()

    job.refresh_from_db()
    assert job.status == "completed"
    # created, running, progress updates, completed
    messages = subscriber.wait_for(lambda received: len(received) >= 4)
    assert {message["event"] for message in messages} == {"job.updated"}
    assert {message["id"] for message in messages} == {str(job.id)}
    assert all(message["at"].endswith("Z") for message in messages)


@pytest.mark.django_db(transaction=True)
def test_a_short_job_is_written_once_when_it_ends(user, run_jobs, subscribe):
    subscriber = subscribe(user.id)
    job = enqueue(test_tasks.adds, 2, 3, owner=user)
    run_jobs()

    job.refresh_from_db()
    assert (job.status, job.result, job.attempts, job.progress) == ("completed", 5, 1, 100)
    assert job.worker_name
    assert job.created_at <= job.started_at <= job.completed_at
    # Created, then completed: a job over before it was worth showing `running` changes its
    # row (and tells its owner) once, when it ends.
    messages = subscriber.wait_for(lambda received: len(received) >= 3, timeout=1)
    assert len(messages) == 2


@pytest.mark.django_db(transaction=True)
def test_enqueue_with_redis_down_marks_the_row_failed_and_raises_503(user, redis_down):
    with pytest.raises(ServiceUnavailableError):
        job_test_start(owner=user)

    job = Job.objects.get()
    assert job.status == "failed"
    assert job.error == "could not be queued: the task queue (Redis) is unavailable"
    assert job.completed_at is not None
    assert job.enqueued_at is None


def test_enqueue_refuses_arguments_that_are_not_json(user):
    with pytest.raises(TaskArgumentError, match="argument 0 is not JSON-serialisable"):
        enqueue(test_tasks.adds, user.id, owner=user)
    assert not Job.objects.exists()


def test_enqueue_refuses_arguments_the_task_does_not_take(user):
    with pytest.raises(TaskArgumentError, match="unexpected keyword argument 'c'"):
        enqueue(test_tasks.adds, 1, c=2, owner=user)


def test_enqueue_by_name_and_a_queue_override(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = enqueue(self_test.using(queue="low_priority"), owner=user)
        by_name = enqueue("tests.adds", 1)
    assert job.queue == "low_priority"
    assert (by_name.name, by_name.owner) == ("tests.adds", None)


def test_task_registration_checks_its_options():
    with pytest.raises(ImproperlyConfigured, match="unknown queue"):
        task(name="tests.bad_queue", queue="nope")(lambda: None)
    with pytest.raises(ImproperlyConfigured, match="is taken by"):

        @task(name="tests.adds")
        def another() -> None:
            pass


def test_registered_task_stays_a_plain_callable():
    assert test_tasks.adds(2, b=5) == 7
    assert engine.get_task("test") is self_test
    assert self_test(payload={"x": 1}) == {"x": 1}


def test_an_atomic_tasks_writes_commit_with_its_completion_only(
    user, run_jobs, django_capture_on_commit_callbacks, monkeypatch
):
    from django.contrib.auth.models import Group

    from apps.jobs import runner

    finish = runner.Attempt.finish
    with django_capture_on_commit_callbacks(execute=True):
        kept = enqueue(test_tasks.atomic_writes, "kept", False, owner=user)
        failed = enqueue(test_tasks.atomic_writes, "failed", True, owner=user)
        superseded = enqueue(test_tasks.atomic_writes, "superseded", False, owner=user)
    # The reconciliation (or a cancel) took the last job's row while it ran.
    monkeypatch.setattr(
        runner.Attempt,
        "finish",
        lambda attempt, status, **changes: (
            attempt.job.pk != superseded.pk and finish(attempt, status, **changes)
        ),
    )
    run_jobs()

    for job in (kept, failed, superseded):
        job.refresh_from_db()
    assert (kept.status, kept.result) == ("completed", "kept")
    assert failed.status == "failed"
    assert superseded.status == "running"
    assert list(Group.objects.values_list("name", flat=True)) == ["kept"]


def test_the_nth_retry_waits_the_nth_interval_the_last_one_repeating(
    user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = enqueue(test_tasks.five_retries, owner=user)
    rq_job = RQJob.fetch(str(job.id), connection=queue_redis())

    waits = []
    while rq_job.retries_left:
        waits.append(rq_job.get_retry_interval())
        rq_job.retries_left -= 1

    assert waits == [10, 60, 300, 300, 300]
    assert engine.retry_intervals((10, 60, 300), 2) == [10, 60]
    assert engine.retry_intervals((), 2) == [0, 0]


def test_a_job_retried_by_hand_gets_its_tasks_retries_again_and_knows_its_final_try(
    user, run_jobs, django_capture_on_commit_callbacks, redis_queue
):
    with django_capture_on_commit_callbacks(execute=True):
        job = enqueue(test_tasks.fails_noting_final, "finals", owner=user)
    run_jobs()
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("failed", 2)

    with django_capture_on_commit_callbacks(execute=True):
        job_retry(job=job)
    run_jobs()

    job.refresh_from_db()
    assert (job.status, job.attempts) == ("failed", 4)
    tries = [value.decode() for value in redis_queue.lrange("finals", 0, -1)]
    assert tries == ["not final", "final", "not final", "final"]


def test_a_task_without_its_own_time_limit_gets_rq_default_timeout(settings):
    settings.RQ_DEFAULT_TIMEOUT = 7

    @task(name="tests.default_limit")
    def default_limit() -> None: ...

    @task(name="tests.own_limit", timeout=9)
    def own_limit() -> None: ...

    assert (default_limit.timeout, own_limit.timeout) == (7, 9)


def test_enqueue_with_a_delay_or_a_time_writes_a_scheduled_row_and_queues_nothing(
    user, django_capture_on_commit_callbacks
):
    at = timezone.now() + timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        later = enqueue(test_tasks.adds, 1, owner=user, delay=30)
        timed = enqueue(test_tasks.adds, 2, owner=user, at=at)
        past = enqueue(test_tasks.adds, 3, owner=user, at=timezone.now() - timedelta(seconds=1))

    assert (later.status, timed.status, timed.scheduled_for) == ("scheduled", "scheduled", at)
    assert timezone.now() + timedelta(seconds=25) < later.scheduled_for
    assert later.enqueued_at is None
    assert (past.status, past.scheduled_for) == ("pending", None)
    assert Queue("default", connection=queue_redis()).job_ids == [str(past.id)]
    with pytest.raises(TypeError):
        enqueue(test_tasks.adds, 1, delay=1, at=at)
    with pytest.raises(ValueError):
        enqueue(test_tasks.adds, 1, at=at.replace(tzinfo=None))
