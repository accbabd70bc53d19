"""Schedules, jobs for later and stopping, with real worker processes and their real scheduler
processes (tests/system/workers.py). Each test takes real time (20-40 s); the two longest
run in xdist groups of their own, beside the rest of the suite."""

import os
import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.redis_clients import queue_redis
from apps.jobs import schedules
from apps.jobs.engine import enqueue
from apps.jobs.models import Job, Schedule
from apps.jobs.services import job_cancel, job_test_start, jobs_purge
from apps.jobs.tests import tasks as test_tasks
from apps.jobs.worker import EXIT_HARD_LIMIT
from tests.system.workers import status_of, wait_until

pytestmark = pytest.mark.system


def schedulers_ticking() -> bool:
    return queue_redis().get(schedules.CLOCK_KEY) is not None


def interval_schedule(name: str, start_in: float, **fields) -> Schedule:
    """Every `interval_seconds` (default 1) from `start_in` seconds from now, running the test
    task; overlapping allowed, so a busy worker cannot make a firing skip."""
    return Schedule.objects.create(
        name=name,
        task="test",
        kind="interval",
        interval_seconds=fields.pop("interval_seconds", 1),
        allow_overlap=True,
        next_run_at=timezone.now() + timedelta(seconds=start_in),
        **fields,
    )


def sleep_until(moment) -> None:
    wait_until(lambda: timezone.now() >= moment, timeout=120, what=f"the clock to reach {moment}")


@pytest.mark.xdist_group("jobs-schedules-interval")
def test_an_interval_of_1s_for_20s_fires_20_times_once_each_with_a_scheduler_killed_midway(
    system_db, start_worker
):
    first = start_worker(database_url=system_db, scheduler=True)
    second = start_worker(database_url=system_db, scheduler=True)
    wait_until(lambda: first.registered() and second.registered(), 90, "both workers")
    wait_until(
        lambda: all("Scheduler for" in w.output() for w in (first, second)),
        60,
        "both scheduler processes",
    )
    schedule = interval_schedule("every-second", start_in=3)
    start = schedule.next_run_at
    end = start + timedelta(seconds=20)

    sleep_until(start + timedelta(seconds=10))
    os.kill(first.process.pid, signal.SIGKILL)  # its scheduler process dies with it
    first.process.wait()
    sleep_until(end + timedelta(seconds=2))
    Schedule.objects.filter(pk=schedule.pk).update(enabled=False)

    fired = list(
        Job.objects.filter(schedule=schedule, scheduled_for__gte=start, scheduled_for__lt=end)
        .order_by("scheduled_for")
        .values_list("scheduled_for", "created_at")
    )
    times = [moment for moment, _ in fired]
    assert 19 <= len(times) <= 21, times
    assert (
        len(set(times))
        == len(times)
        == Job.objects.filter(
            schedule=schedule, scheduled_for__gte=start, scheduled_for__lt=end
        ).count()
    )
    late = max((created - moment).total_seconds() for moment, created in fired)
    print(f"20 firings expected, {len(times)} fired, at most {late:.2f} s late")
    assert late <= schedules.MISSED_AFTER


@pytest.mark.xdist_group("jobs-schedules-catchup")
def test_after_every_worker_stopped_for_10s_catch_up_skip_once_and_all_do_what_they_say(
    system_db, start_worker
):
    worker = start_worker(database_url=system_db, scheduler=True)
    wait_until(schedulers_ticking, 90, "the scheduler")
    modes = {
        mode: interval_schedule(f"catch-up-{mode}", 2, interval_seconds=2, catch_up=mode)
        for mode in ("skip", "once", "all")
    }
    wait_until(lambda: all(s.jobs.count() >= 2 for s in modes.values()), 60, "two firings of each")
    worker.stop()
    stopped_at = timezone.now()
    sleep_until(stopped_at + timedelta(seconds=10))
    restarted_at = timezone.now()
    again = start_worker(database_url=system_db, scheduler=True)
    wait_until(
        lambda: all(
            s.jobs.filter(scheduled_for__gt=restarted_at).count() >= 2 for s in modes.values()
        ),
        90,
        "each schedule to fire twice after the restart",
    )
    for schedule in modes.values():
        Schedule.objects.filter(pk=schedule.pk).update(enabled=False)

    def times(mode: str) -> tuple[list, list]:
        moments = list(
            modes[mode].jobs.order_by("scheduled_for").values_list("scheduled_for", flat=True)
        )
        before = [m for m in moments if m <= stopped_at]
        return before, [m for m in moments if m > stopped_at]

    step = timedelta(seconds=2)
    # all: a job for every firing, the missed ones included: no gap anywhere.
    before, after = times("all")
    assert all(b - a == step for a, b in zip(before + after, (before + after)[1:], strict=False))
    assert after[0] - before[-1] == step
    # skip: nothing that came due while the workers were down ran; then every firing again.
    before, after = times("skip")
    assert after[0] > restarted_at
    assert after[1] - after[0] == step
    # once: one job for all the missed firings, the latest of them, then every firing again.
    before, after = times("once")
    assert after[0] - before[-1] >= 4 * step, "the earlier missed firings did not run"
    assert after[0] <= restarted_at + timedelta(seconds=30)
    assert after[1] - after[0] == step
    logged = again.output()
    assert "(catch_up skip), 0 skipped, 0 fired" in logged
    assert "(catch_up once), 0 skipped, 1 fired" in logged


@pytest.mark.xdist_group("jobs-system")
def test_a_delayed_job_does_not_run_early(system_db, owner, start_worker):
    start_worker(database_url=system_db, scheduler=True)
    wait_until(schedulers_ticking, 90, "the scheduler")
    job = job_test_start(owner=owner, delay=4, payload={"late": True})
    assert status_of(job) == "scheduled"

    wait_until(lambda: status_of(job) == "completed", 60, "the delayed job to run")

    assert job.started_at >= job.scheduled_for
    assert job.result == {"late": True}


@pytest.mark.xdist_group("jobs-system")
def test_a_running_job_cancelled_through_the_api_stops_within_5s_and_its_worker_goes_on(
    system_db, owner, start_worker
):
    worker = start_worker(database_url=system_db)
    long = job_test_start(owner=owner, duration=30)
    wait_until(lambda: status_of(long) == "running", 60, "the job to start")

    job_cancel(job=long)
    assert (long.status, long.cancel_requested) == ("running", True)
    asked_at = time.monotonic()
    wait_until(lambda: status_of(long) == "cancelled", 5, "the job to stop")
    print(f"stopped {time.monotonic() - asked_at:.2f} s after the cancel")

    after = job_test_start(owner=owner, payload={"next": 1})
    wait_until(lambda: status_of(after) == "completed", 30, "the next job")
    assert worker.process.poll() is None
    assert long.attempts == 1


@pytest.mark.xdist_group("jobs-system")
def test_a_task_past_its_hard_limit_is_given_up_without_waiting_for_a_heartbeat(
    system_db, owner, start_worker
):
    job = enqueue(test_tasks.out_of_reach, 120, owner=owner)
    # The default bound: a busy worker heartbeats every 30 s.
    worker = start_worker(
        database_url=system_db,
        env={"JOBS_WORKER_LOST_AFTER": "180", "JOBS_HARD_LIMIT_GRACE": "1"},
    )
    wait_until(lambda: status_of(job) == "running", 60, "the job to start")

    # Its limit (1 s) and grace (1 s) are up long before the next heartbeat (30 s).
    assert worker.process.wait(timeout=15) == EXIT_HARD_LIMIT, worker.output()
    assert status_of(job) == "failed"


@pytest.mark.xdist_group("jobs-system")
def test_purge_with_live_workers_never_deletes_an_unfinished_job(system_db, owner, start_worker):
    start_worker(database_url=system_db, scheduler=True)
    done = job_test_start(owner=owner)
    running = job_test_start(owner=owner, duration=20)
    scheduled = job_test_start(owner=owner, delay=3600)
    wait_until(
        lambda: status_of(running) == "running" and status_of(done) == "completed",
        60,
        "one job running, one done",
    )
    result = jobs_purge(older_than_days=0)

    assert result.deleted >= 1
    assert not Job.objects.filter(pk=done.pk).exists()
    assert (status_of(running), status_of(scheduled)) == ("running", "scheduled")
    job_cancel(job=running)
    wait_until(lambda: status_of(running) == "cancelled", 10, "the running job to stop")
