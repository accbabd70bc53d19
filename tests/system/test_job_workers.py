"""The task engine with real `manage.py rqworker` processes, as operators run them (the
processes and their shared database: apps/jobs/tests/conftest.py)."""

import os
import signal
import time
from typing import Any

import pytest
from rq import Queue
from rq.command import send_stop_job_command
from rq.job import Job as RQJob

from apps.core.logging import request_id_var
from apps.core.redis_clients import queue_redis
from apps.jobs.engine import enqueue
from apps.jobs.services import job_test_start
from apps.jobs.tests import tasks as test_tasks
from apps.jobs.worker import BEAT_GAP, EXIT_HARD_LIMIT
from tests.system.workers import LOST_AFTER, status_of, wait_until

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("jobs-system")]


def test_worker_runs_jobs_retries_failures_and_logs_each_with_its_request_id(
    system_db, owner, start_worker
):
    token = request_id_var.set("sys-req-42")
    try:
        failing = job_test_start(owner=owner, fail=True)
        passing = job_test_start(owner=owner, duration=0.5, payload={"n": 1})
    finally:
        request_id_var.reset(token)

    worker = start_worker(database_url=system_db, scheduler=True)
    wait_until(
        lambda: status_of(failing) == "failed" and status_of(passing) == "completed",
        timeout=60,
        what="the failing job to fail and the other to complete",
    )
    # An attempt's end is logged just after its row is written: wait for the last lines.
    wait_until(
        lambda: (
            worker.output().count(f"{failing.id} test failed after") >= 3
            and f"{passing.id} test completed in" in worker.output()
        ),
        timeout=10,
        what="the last attempts to be logged",
    )

    assert (passing.result, passing.attempts, passing.progress) == ({"n": 1}, 1, 100)
    assert failing.attempts == 3
    assert failing.error == "SelfTestError: the test job failed, as requested"
    assert "raise SelfTestError" in failing.traceback
    lines = worker.output().splitlines()
    for job in (failing, passing):
        mine = [line for line in lines if str(job.id) in line and "tanka.jobs" in line]
        assert mine, worker.output()
        assert all("[sys-req-42]" in line and " test " in line for line in mine)
    assert any("completed in" in line and str(passing.id) in line for line in lines)
    assert sum(f"{failing.id} test failed after" in line for line in lines) == 3


def test_a_long_job_that_reports_no_progress_is_seen_running_while_it_runs(
    system_db, owner, start_worker
):
    job = enqueue(test_tasks.sleeps_quietly, 3, owner=owner)
    start_worker(database_url=system_db)

    wait_until(lambda: status_of(job) == "running", timeout=60, what="the job to be running")
    assert job.attempts == 1
    assert job.started_at is not None
    wait_until(lambda: status_of(job) == "completed", timeout=60, what="the job to complete")
    assert (job.attempts, job.result) == (1, 3)
    assert job.duration.total_seconds() >= 3


def test_high_priority_job_queued_after_low_priority_ones_runs_first(
    system_db, owner, start_worker
):
    low = [job_test_start(owner=owner, queue="low_priority") for _ in range(3)]
    high = job_test_start(owner=owner, queue="high_priority")

    worker = start_worker(database_url=system_db, burst=True)
    worker.process.wait(timeout=90)

    for job in [*low, high]:
        assert status_of(job) == "completed"
    assert all(high.started_at < job.started_at for job in low)


def test_job_of_a_killed_worker_is_retried_within_the_bound(system_db, owner, start_worker):
    survivor = start_worker("high_priority", "default", database_url=system_db, scheduler=True)
    job = job_test_start(owner=owner, duration=30, queue="low_priority")
    victim = start_worker("low_priority", database_url=system_db)
    wait_until(lambda: status_of(job) == "running", timeout=60, what="the job to start")
    wait_until(survivor.registered, timeout=60, what="the surviving worker")

    # The job runs in the worker's own process: killing the worker stops it.
    assert victim.processes_left() == [victim.process.pid]
    os.kill(victim.process.pid, signal.SIGKILL)
    victim.process.wait()

    assert not victim.processes_left()
    wait_until(
        lambda: status_of(job) != "running",
        timeout=LOST_AFTER + 30,
        what="the reconciliation to notice the dead worker",
    )
    assert job.status == "pending"
    assert job.attempts == 1
    assert job.error.startswith("the worker running this job died")
    # The reconciliation writes the row first, then hands RQ the retry. RQ writes the retry's
    # status on its own, before the transaction that saves the job and schedules or queues
    # it (rq's Job.retry): the job in a registry or queue is what says that transaction ran.
    connection = queue_redis()
    queue = Queue("low_priority", connection=connection)
    wait_until(
        lambda: str(job.id) in [*queue.scheduled_job_registry.get_job_ids(), *queue.job_ids],
        timeout=30,
        what="RQ to schedule the retry",
    )
    rq_job = RQJob.fetch(str(job.id), connection=connection)
    assert rq_job.get_status() in ("scheduled", "queued")
    assert rq_job.retries_left == 1


def test_a_running_job_stopped_from_the_dashboard_is_cancelled_and_the_worker_goes_on(
    system_db, owner, start_worker
):
    worker = start_worker(database_url=system_db)
    long = job_test_start(owner=owner, duration=30)
    wait_until(lambda: status_of(long) == "running", timeout=60, what="the job to start")

    # What the RQ dashboard's "stop" sends.
    send_stop_job_command(queue_redis(), str(long.id))

    wait_until(lambda: status_of(long) == "cancelled", timeout=30, what="the job to stop")
    assert long.error == "stopped by an operator"
    assert RQJob.fetch(str(long.id), connection=queue_redis()).get_status() == "stopped"
    after = job_test_start(owner=owner)
    wait_until(lambda: status_of(after) == "completed", timeout=30, what="the next job")
    assert worker.process.poll() is None


def test_a_job_past_its_time_limit_out_of_the_alarms_reach_is_failed_and_its_worker_exits(
    system_db, owner, start_worker
):
    job = enqueue(test_tasks.out_of_reach, 120, owner=owner)
    worker = start_worker(database_url=system_db, env={"JOBS_HARD_LIMIT_GRACE": "1"})

    assert worker.process.wait(timeout=60) == EXIT_HARD_LIMIT, worker.output()
    assert status_of(job) == "failed"
    assert job.error.startswith("the job overran its time limit (1 s) and did not stop")
    assert not worker.registered()


@pytest.mark.django_db
def test_health_shows_the_task_queue_while_a_worker_runs_and_not_after(
    api_client, start_worker, tmp_path
):
    def health() -> dict[str, Any]:
        return api_client.get("/health").json()

    assert health()["task_queue"] == "disconnected"
    worker = start_worker(database_url=f"sqlite:///{tmp_path / 'unused.sqlite3'}")

    body = wait_until(
        lambda: (body := health())["task_queue"] == "connected" and body,
        timeout=60,
        what="/health to see the worker",
    )
    assert body["status"] == "healthy"
    assert body["services"]["task_queue"] == "connected"

    worker.stop()
    body = health()
    assert (body["task_queue"], body["status"]) == ("disconnected", "degraded")


def test_a_worker_whose_database_connection_was_dropped_while_idle_runs_the_next_job(
    system_db, owner, start_worker
):
    """Back-to-back jobs skip the connection's health check (it has just answered); after a
    second idle the worker checks it again, so a connection the server dropped meanwhile is
    replaced before the next job instead of failing it."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the server dropping a connection is PostgreSQL's")
    start_worker(database_url=system_db)
    first = job_test_start(owner=owner)
    wait_until(lambda: status_of(first) == "completed", timeout=60, what="the first job")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert cursor.fetchone() is not None
    # Idle for longer than the worker trusts a connection unchecked.
    time.sleep(BEAT_GAP + 0.5)
    second = job_test_start(owner=owner)
    wait_until(lambda: status_of(second) == "completed", timeout=60, what="the second job")
    assert second.attempts == 1
