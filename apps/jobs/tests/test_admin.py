"""The operators' console: job pages for staff only, the two actions, the RQ dashboard."""

import pytest
from django.urls import reverse
from rq import Queue

from apps.core.redis_clients import queue_redis
from apps.jobs.models import Job

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


def test_admin_action_cancels_selected_pending_jobs_only(
    staff_client, user, django_capture_on_commit_callbacks
):
    pending = make_job(user, status="pending")
    running = make_job(user, status="running")

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            CHANGELIST,
            {"action": "cancel_pending", "_selected_action": [pending.pk, running.pk]},
            follow=True,
        )

    pending.refresh_from_db()
    running.refresh_from_db()
    assert (pending.status, running.status) == ("cancelled", "running")
    assert "Skipped 1 job(s) that were not pending" in response.content.decode()


def test_rq_dashboard_is_linked_from_the_admin_index_for_staff_only(staff_client, client, user):
    dashboard = reverse("admin:django_rq_dashboard_changelist")
    assert dashboard in staff_client.get("/admin/").content.decode()

    response = staff_client.get(dashboard)
    assert response.status_code == 200
    for queue in ("high_priority", "default", "low_priority"):
        assert queue in response.content.decode()

    client.force_login(user)
    assert client.get(dashboard).status_code == 302
