"""The operators' console: job pages for staff only, the two actions, the RQ dashboard."""

import pytest
from django.urls import reverse
from django_rq.settings import get_queues_map
from rq import Queue

from apps.core.redis_clients import queue_redis
from apps.jobs.models import Job
from apps.users.models import User

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:jobs_job_changelist")


def make_job(owner, **fields) -> Job:
    fields = {"name": "test", "queue": "default", "timeout": 60, "max_retries": 2, **fields}
    return Job.objects.create(owner=owner, **fields)


def test_job_list_shows_jobs_with_filters_and_search(staff_client, user):
    job = make_job(user, status="failed", attempts=3)
    other = make_job(user, name="generate_embedding")

    page = staff_client.get(CHANGELIST).content.decode()
    assert str(job.id) in page
    for text in ("By status", "By queue", "By name", "ann@example.com", "Retry selected failed"):
        assert text in page

    found = staff_client.get(CHANGELIST, {"q": "generate_emb"}).content.decode()
    assert str(other.id) in found
    assert str(job.id) not in found
    by_status = staff_client.get(CHANGELIST, {"status__exact": "failed"}).content.decode()
    assert str(job.id) in by_status
    assert str(other.id) not in by_status


def test_job_detail_shows_args_result_error_traceback_and_timings_read_only(staff_client, user):
    job = make_job(
        user,
        status="failed",
        kwargs={"payload": {"colour": "teal"}},
        error="ValueError: boom",
        traceback="Traceback (most recent call last):\n  raise ValueError('boom')",
    )

    response = staff_client.get(reverse("admin:jobs_job_change", args=[job.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    for text in ("teal", "ValueError: boom", "Traceback (most recent call last)", "Timings"):
        assert text in page
    assert 'name="_save"' not in page


def test_job_pages_refuse_anonymous_and_non_staff_users(client, user):
    job = make_job(user)
    for url in (CHANGELIST, reverse("admin:jobs_job_change", args=[job.pk])):
        assert client.get(url).status_code == 302
    client.force_login(user)
    for url in (CHANGELIST, reverse("admin:jobs_job_change", args=[job.pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]


def test_admin_action_retries_selected_failed_jobs_only(
    staff_client, user, django_capture_on_commit_callbacks
):
    failed = make_job(user, status="failed", attempts=3)
    completed = make_job(user, status="completed")

    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            CHANGELIST,
            {"action": "retry_failed", "_selected_action": [failed.pk, completed.pk]},
        )

    failed.refresh_from_db()
    completed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("pending", 3)
    assert completed.status == "completed"
    assert str(failed.id) in Queue("default", connection=queue_redis()).job_ids


def test_admin_cancel_action_covers_scheduled_pending_and_running_jobs(
    staff_client, user, django_capture_on_commit_callbacks, monkeypatch
):
    scheduled = make_job(user, status="scheduled")
    pending = make_job(user, status="pending")
    running = make_job(user, status="running", attempts=1)
    completed = make_job(user, status="completed")
    stopped = []
    monkeypatch.setattr("apps.jobs.engine.stop_running", stopped.append)

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            CHANGELIST,
            {"action": "cancel_jobs",
             "_selected_action": [scheduled.pk, pending.pk, running.pk, completed.pk]},
            follow=True,
        )  # fmt: skip

    for job in (scheduled, pending, running, completed):
        job.refresh_from_db()
    assert (scheduled.status, pending.status, completed.status) == (
        "cancelled", "cancelled", "completed",
    )  # fmt: skip
    assert (running.status, running.cancel_requested, stopped) == ("running", True, [running.id])
    assert "Skipped 1 job(s)" in response.content.decode()


def test_rq_dashboard_is_linked_from_the_admin_index_for_staff_only(staff_client, client, user):
    dashboard = reverse("admin:django_rq_dashboard_changelist")
    assert dashboard in staff_client.get("/admin/").content.decode()

    response = staff_client.get(dashboard)
    assert response.status_code == 200
    for queue in ("high_priority", "default", "low_priority"):
        assert queue in response.content.decode()

    client.force_login(user)
    assert client.get(dashboard).status_code == 302


@pytest.fixture
def plain_staff(db) -> User:
    """Staff without any permission."""
    return User.objects.create_user("clerk@example.com", "pw-0123456789", is_staff=True)


def grant(user: User, *perms: str) -> User:
    from django.contrib.auth.models import Permission

    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return User.objects.get(pk=user.pk)  # a fresh copy: permissions are cached per instance


def test_every_rq_dashboard_page_and_action_needs_its_permissions(client, plain_staff, user):
    queue_page = reverse("admin:django_rq_jobs", args=[1])
    empty = reverse("admin:django_rq_clear", args=[1])
    pending = make_job(user, status="pending")
    client.force_login(plain_staff)

    assert client.get(reverse("admin:django_rq_dashboard_changelist")).status_code == 403
    assert client.get(queue_page).status_code == 403
    assert client.post(empty).status_code == 403

    client.force_login(grant(plain_staff, "django_rq.admin"))
    assert client.get(queue_page).status_code == 200
    assert client.post(empty).status_code == 403, "looking is not acting"
    pending.refresh_from_db()
    assert pending.status == "pending"


def test_rq_dashboard_actions_change_the_job_rows_through_the_services(
    staff_client, user, run_jobs, django_capture_on_commit_callbacks
):
    from apps.jobs.engine import enqueue
    from apps.jobs.tests import tasks as test_tasks

    with django_capture_on_commit_callbacks(execute=True):
        failing = enqueue(test_tasks.always_fails, "boom", owner=user)
    run_jobs()
    with django_capture_on_commit_callbacks(execute=True):
        waiting = [enqueue(test_tasks.adds, n, owner=user) for n in range(2)]
    default = get_queues_map()["default"]

    # "Requeue" of a failed job: the row is pending again, with its retries renewed.
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(reverse("admin:django_rq_requeue_job", args=[default, failing.id]))
    failing.refresh_from_db()
    assert (failing.status, failing.max_retries) == ("pending", 3 + 2)
    # "Empty Queue": every waiting job is cancelled, and stays so.
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(reverse("admin:django_rq_clear", args=[default]))
    for job in (*waiting, failing):
        job.refresh_from_db()
        assert job.status == "cancelled"
    # Deleting a finished job's copy is not offered: its row is the record.
    response = staff_client.post(
        reverse("admin:django_rq_delete_failed_jobs", args=[default]), follow=True
    )
    assert "Not offered here" in response.content.decode()


SCHEDULES = reverse("admin:jobs_schedule_changelist")
ADD_SCHEDULE = reverse("admin:jobs_schedule_add")


def schedule_form(**fields):
    return {
        "name": "nightly", "task": "test", "args": "[]", "kwargs": '{"payload": {"n": 1}}',
        "queue": "", "enabled": "on", "kind": "cron", "cron": "0 3 * * *", "timezone": "UTC",
        "interval_seconds": "", "run_at_0": "", "run_at_1": "", "repeats": "-1",
        "catch_up": "skip", **fields,
    }  # fmt: skip


def test_a_schedule_added_in_the_admin_gets_its_next_runs(staff_client):
    response = staff_client.post(ADD_SCHEDULE, schedule_form(), follow=True)

    assert response.status_code == 200
    from apps.jobs.models import Schedule

    schedule = Schedule.objects.get(name="nightly")
    assert schedule.next_run_at is not None
    assert schedule.next_run_at.strftime("%H:%M") == "03:00"
    page = staff_client.get(SCHEDULES).content.decode()
    assert "At 03:00 AM" in page, "the cron expression read out"


@pytest.mark.parametrize(
    ("fields", "field", "text"),
    [
        ({"task": "no_such_task"}, "task", "No task is registered"),
        ({"cron": "0 25 * * *"}, "cron", "not a valid cron expression"),
        ({"kwargs": '{"colour": "teal"}'}, "kwargs", "unexpected keyword argument"),
        ({"kwargs": "{not json"}, "kwargs", "Enter a valid JSON"),
    ],
)
def test_the_schedule_form_refuses_bad_input_naming_the_field(staff_client, fields, field, text):
    response = staff_client.post(ADD_SCHEDULE, schedule_form(**fields))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors, errors
    assert text in str(errors[field])


def test_schedule_actions_run_now_disable_and_enable(
    staff_client, django_capture_on_commit_callbacks
):
    from apps.jobs.models import Schedule

    schedule = Schedule.objects.create(name="s", task="test", kind="interval", interval_seconds=60)

    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(SCHEDULES, {"action": "run_now", "_selected_action": [schedule.pk]})
    staff_client.post(SCHEDULES, {"action": "disable", "_selected_action": [schedule.pk]})
    schedule.refresh_from_db()
    assert (schedule.jobs.count(), schedule.enabled, schedule.last_job.status) == (
        1, False, "pending",
    )  # fmt: skip
    staff_client.post(SCHEDULES, {"action": "enable", "_selected_action": [schedule.pk]})
    schedule.refresh_from_db()
    assert schedule.enabled and schedule.next_run_at is not None


def test_the_admin_index_shows_the_engine_at_a_glance(staff_client, user):
    from datetime import timedelta

    from django.utils import timezone

    make_job(user, status="failed")
    old = make_job(user, status="pending")
    Job.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(minutes=7))

    page = staff_client.get("/admin/").content.decode()

    assert 'id="jobs-summary"' in page
    assert 'data-status="failed"' in page
    assert "7 min" in page
    assert "high_priority" in page
    assert "Workers alive" in page
