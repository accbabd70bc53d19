"""Schedules and jobs for later in this process: timing, catch-up, exactly one job per firing,
schedules declared in code (apps/jobs/schedules.py). The same with real scheduler processes
is in test_system_schedules.py."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from rq import Queue

from apps.core.redis_clients import queue_redis
from apps.jobs import schedules
from apps.jobs.engine import QUEUE_UNAVAILABLE, enqueue
from apps.jobs.models import Job, Schedule
from apps.jobs.tests import tasks as test_tasks

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def make_schedule(**fields) -> Schedule:
    fields = {
        "name": "every-10s",
        "task": "test",
        "kind": "interval",
        "interval_seconds": 10,
        "next_run_at": T0,
        **fields,
    }
    return Schedule.objects.create(**fields)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("catch_up", "downtime", "late", "fired", "next_run"),
    [
        # On time (a pass within MISSED_AFTER seconds): fired whatever catch_up says.
        ("skip", False, 2, [0], 10),
        ("skip", False, 12, [10], 20),  # 0 is 12 s late: missed; 10 is 2 s late: on time
        # After a downtime every due firing is missed.
        ("skip", True, 35, [], 40),
        ("once", True, 35, [30], 40),
        ("all", True, 35, [0, 10, 20, 30], 40),
    ],
)
def test_a_due_interval_schedule_fires_what_its_catch_up_says(
    catch_up, downtime, late, fired, next_run
):
    schedule = make_schedule(catch_up=catch_up)

    plan = schedules.plan(schedule, at(late), downtime=downtime)

    assert plan.fire == [at(s) for s in fired]
    assert plan.next_run_at == at(next_run)


def test_cron_times_follow_the_schedules_time_zone():
    schedule = make_schedule(kind="cron", cron="0 9 * * mon-fri", timezone="Europe/Paris")
    schedule.next_run_at = schedules.first_run(schedule, T0)  # Tuesday 1 Dec 2026, 12:00 UTC

    assert schedules.upcoming(schedule, 3) == [
        datetime(2026, 12, 2, 8, 0, tzinfo=UTC),  # 09:00 in Paris is 08:00 UTC in winter
        datetime(2026, 12, 3, 8, 0, tzinfo=UTC),
        datetime(2026, 12, 4, 8, 0, tzinfo=UTC),
    ]
    missed = schedules.plan(schedule, datetime(2026, 12, 7, 8, 0, 1, tzinfo=UTC), downtime=True)
    assert missed.fire == []
    assert missed.next_run_at == datetime(2026, 12, 8, 8, 0, tzinfo=UTC)


def test_a_pass_fires_a_due_schedule_once_and_moves_it_on(django_capture_on_commit_callbacks):
    schedule = make_schedule(next_run_at=timezone.now() - timedelta(seconds=1))

    with django_capture_on_commit_callbacks(execute=True):
        first = schedules.tick(queue_redis())
        second = schedules.tick(queue_redis())

    assert len(first.fired) == 1 and not second.fired
    job = Job.objects.get(schedule=schedule)
    schedule.refresh_from_db()
    assert (job.status, job.name, job.scheduled_for) == ("pending", "test", schedule.next_run_at
                                                         - timedelta(seconds=10))  # fmt: skip
    assert schedule.last_job == job
    assert schedule.next_run_at == job.scheduled_for + timedelta(seconds=10)
    assert str(job.id) in Queue("default", connection=queue_redis()).job_ids


def test_two_schedulers_racing_for_one_firing_write_one_job(django_capture_on_commit_callbacks):
    make_schedule(next_run_at=timezone.now() - timedelta(seconds=1))
    # Both read the schedule before either fired it.
    mine, theirs = (Schedule.objects.get(name="every-10s") for _ in range(2))
    now = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        fired = schedules.fire(
            mine, schedules.plan(mine, now, downtime=False), now, schedules.Report()
        )
        again = schedules.fire(
            theirs, schedules.plan(theirs, now, downtime=False), now, schedules.Report()
        )

    assert (len(fired), again) == (1, [])
    assert Job.objects.count() == 1


def test_with_redis_down_every_firing_is_recorded_failed_and_the_scheduler_goes_on(
    redis_down, django_capture_on_commit_callbacks
):
    now = timezone.now()
    catching_up = make_schedule(
        catch_up="all", allow_overlap=True, next_run_at=now - timedelta(seconds=25)
    )
    other = make_schedule(name="other", next_run_at=now - timedelta(seconds=1))

    with django_capture_on_commit_callbacks(execute=True):
        schedules.fire_due(now, schedules.Report(), downtime=False)

    jobs = list(Job.objects.filter(schedule__in=[catching_up, other]))
    assert len(jobs) == 4  # three catch-up firings and the other schedule's one
    assert {(job.status, job.error) for job in jobs} == {("failed", QUEUE_UNAVAILABLE)}
    for schedule in (catching_up, other):
        schedule.refresh_from_db()
        assert schedule.next_run_at > now


def test_the_database_refuses_a_second_job_for_one_firing():
    schedule = make_schedule()
    fields = {"name": "test", "queue": "default", "timeout": 60, "schedule": schedule}
    Job.objects.create(scheduled_for=T0, **fields)

    with pytest.raises(IntegrityError), transaction.atomic():
        Job.objects.create(scheduled_for=T0, **fields)


def test_a_firing_whose_previous_job_is_still_active_is_skipped_unless_overlap_is_allowed(
    django_capture_on_commit_callbacks,
):
    busy = Job.objects.create(name="test", queue="default", timeout=60, status="running")
    quiet = make_schedule(name="no-overlap", last_job=busy, next_run_at=timezone.now())
    overlapping = make_schedule(
        name="overlap", last_job=busy, allow_overlap=True, next_run_at=timezone.now()
    )

    with django_capture_on_commit_callbacks(execute=True):
        report = schedules.tick(queue_redis())

    assert report.skipped == 1
    assert not quiet.jobs.exists()
    assert overlapping.jobs.count() == 1
    quiet.refresh_from_db()
    assert quiet.next_run_at > timezone.now(), "a skipped firing still moves the schedule on"


def test_repeats_count_down_and_a_schedule_with_none_left_stops(
    django_capture_on_commit_callbacks,
):
    schedule = make_schedule(
        interval_seconds=1, repeats=2, allow_overlap=True, next_run_at=timezone.now()
    )

    with django_capture_on_commit_callbacks(execute=True):
        report = schedules.tick(queue_redis(), now=timezone.now() + timedelta(seconds=3))

    assert report.skipped == 2, "four firings were due, two repeats were left"
    schedule.refresh_from_db()
    assert (schedule.repeats, schedule.next_run_at, schedule.jobs.count()) == (0, None, 2)


def test_a_once_schedule_fires_late_rather_than_never_even_when_skipping():
    schedule = make_schedule(kind="once", run_at=at(0), interval_seconds=None, catch_up="skip")

    plan = schedules.plan(schedule, at(3600), downtime=True)

    assert (plan.fire, plan.next_run_at) == ([at(0)], None)


def test_a_scheduled_job_is_released_at_its_time_and_not_before(
    user, django_capture_on_commit_callbacks
):
    job = enqueue(test_tasks.adds, 1, owner=user, delay=60)

    early = schedules.tick(queue_redis())
    job.refresh_from_db()
    assert (early.released, job.status) == ([], "scheduled")

    with django_capture_on_commit_callbacks(execute=True):
        due = schedules.tick(queue_redis(), now=timezone.now() + timedelta(seconds=61))
    job.refresh_from_db()
    assert due.released == [str(job.id)]
    assert job.status == "pending"
    assert job.enqueued_at is not None
    assert Queue("default", connection=queue_redis()).job_ids == [str(job.id)]


def test_run_now_fires_an_extra_job_without_moving_the_schedule(
    django_capture_on_commit_callbacks,
):
    schedule = make_schedule(repeats=5)

    with django_capture_on_commit_callbacks(execute=True):
        job = schedules.run_now(schedule)

    schedule.refresh_from_db()
    assert (schedule.last_job, schedule.next_run_at, schedule.repeats) == (job, T0, 5)
    assert job.status == "pending"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"task": "no_such_task"}, "task"),
        ({"kind": "cron", "cron": "61 * * * *"}, "cron"),
        ({"kind": "cron", "cron": "* * * * * *"}, "cron"),
        ({"kind": "cron", "cron": "0 * * * *", "timezone": "Mars/Olympus"}, "timezone"),
        ({"kwargs": {"no_such_argument": 1}}, "kwargs"),
        ({"args": {"not": "a list"}}, "args"),
        ({"kind": "interval", "interval_seconds": 0}, "interval_seconds"),
        ({"kind": "once", "run_at": None}, "run_at"),
        ({"queue": "nowhere"}, "queue"),
    ],
)
def test_an_invalid_schedule_is_refused_naming_the_field(changes, field):
    schedule = Schedule(**{"name": "x", "task": "test", "kind": "interval", "interval_seconds": 5,
                           **changes})  # fmt: skip
    assert field in schedules.errors(schedule)


def test_schedules_declared_in_code_are_created_once_and_kept_in_step(monkeypatch):
    purge = Schedule.objects.get(
        name="purge-finished-jobs"
    )  # created by the test database's migrate
    assert (purge.task, purge.kind, purge.cron, purge.declared_in_code) == (
        "purge_jobs", "cron", "23 * * * *", True,
    )  # fmt: skip
    # Its next firing is the cron's: minute 23 of an hour. Not "after now": the test database
    # was migrated earlier, and past minute 23 that firing is already due.
    assert (purge.next_run_at.minute, purge.next_run_at.second) == (23, 0)
    Schedule.objects.filter(pk=purge.pk).update(enabled=False)
    stale = make_schedule(name="gone-from-code", declared_in_code=True)

    schedules.sync_declared()
    schedules.sync_declared()

    assert Schedule.objects.filter(name="purge-finished-jobs").count() == 1
    assert not Schedule.objects.filter(pk=stale.pk).exists()
    purge.refresh_from_db()
    assert purge.enabled is False, "an operator's choice outlives a deploy"
