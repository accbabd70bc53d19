"""What operators run: retention (`purge_jobs`), `jobs_info` and `/metrics`."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.jobs.models import Job
from apps.users.models import User

pytestmark = pytest.mark.django_db


def make_job(days_ago: float | None, status: str, **fields) -> Job:
    job = Job.objects.create(name="test", queue="default", timeout=60, status=status, **fields)
    if days_ago is not None:
        moment = timezone.now() - timedelta(days=days_ago)
        Job.objects.filter(pk=job.pk).update(completed_at=moment, created_at=moment)
    return job


def purge(*args: str) -> str:
    out = StringIO()
    call_command("purge_jobs", *args, stdout=out)
    return out.getvalue()


def test_purge_deletes_finished_jobs_past_their_status_retention_and_nothing_unfinished(settings):
    settings.JOBS_KEEP_COMPLETED_DAYS = 30
    settings.JOBS_KEEP_FAILED_DAYS = 90
    settings.JOBS_KEEP_CANCELLED_DAYS = 0  # kept for ever
    old_completed = make_job(31, "completed")
    recent_completed = make_job(29, "completed")
    old_failed, older_failed = make_job(60, "failed"), make_job(91, "failed")
    ancient_cancelled = make_job(400, "cancelled")
    unfinished = [make_job(400, status) for status in ("scheduled", "pending", "running")]

    assert purge("--dry-run") == "Would delete 2 finished jobs (completed 1, failed 1).\n"
    assert Job.objects.count() == 8
    assert purge() == "Deleted 2 finished jobs (completed 1, failed 1).\n"

    left = set(Job.objects.values_list("pk", flat=True))
    assert left == {j.pk for j in (recent_completed, old_failed, ancient_cancelled, *unfinished)}
    assert old_completed.pk not in left and older_failed.pk not in left


def test_purge_older_than_days_overrides_the_settings_and_still_spares_unfinished_jobs(
    monkeypatch,
):
    monkeypatch.setattr("apps.jobs.services.PURGE_BATCH", 2)
    finished = [make_job(2, status) for status in ("completed", "failed", "cancelled") * 2]
    unfinished = [make_job(2, status) for status in ("scheduled", "pending", "running")]

    output = purge("--older-than-days", "1")

    assert output.startswith(f"Deleted {len(finished)} finished jobs")
    assert set(Job.objects.values_list("pk", flat=True)) == {j.pk for j in unfinished}


def test_jobs_info_prints_the_engine_at_a_glance():
    make_job(None, "pending")
    make_job(None, "failed")
    out = StringIO()

    call_command("jobs_info", stdout=out)

    text = out.getvalue()
    assert "Jobs, last 24 h: scheduled 0, pending 1, running 0, completed 0, failed 1" in text
    assert "Oldest pending:  0 s" in text or "Oldest pending:  1 s" in text
    assert "Queues:          high_priority 0, default 0, low_priority 0" in text
    assert "Workers alive:   0" in text


def test_metrics_are_for_staff_or_allowed_addresses(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.1.0.0/16"]
    assert client.get("/metrics", REMOTE_ADDR="10.2.0.5").status_code == 403
    assert client.get("/metrics/", REMOTE_ADDR="10.1.3.4").status_code == 200
    client.force_login(User.objects.create_user("n@example.com", "pw-0123456789"))
    assert client.get("/metrics", REMOTE_ADDR="10.2.0.5").status_code == 403
    client.force_login(User.objects.create_user("s@example.com", "pw-0123456789", is_staff=True))
    assert client.get("/metrics", REMOTE_ADDR="10.2.0.5").status_code == 200


def test_metrics_show_queues_jobs_by_status_and_run_and_wait_histograms(client):
    now = timezone.now()
    Job.objects.create(
        name="test", queue="default", timeout=60, status="completed", attempts=1,
        started_at=now - timedelta(seconds=3), completed_at=now - timedelta(seconds=1),
    )  # fmt: skip
    Job.objects.filter(name="test").update(created_at=now - timedelta(seconds=3.5))
    make_job(None, "pending")

    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()

    assert 'tanka_jobs{status="pending",task="test"} 1.0' in text
    assert 'tanka_jobs{status="completed",task="test"} 1.0' in text
    assert 'tanka_queue_depth{queue="default"} 0.0' in text
    assert "tanka_workers_alive 0.0" in text
    assert 'tanka_job_run_seconds_bucket{le="1.0",task="test"} 0.0' in text
    assert 'tanka_job_run_seconds_bucket{le="2.5",task="test"} 1.0' in text
    assert 'tanka_job_run_seconds_gsum{task="test"} 2.0' in text
    assert 'tanka_job_wait_seconds_bucket{le="0.5",task="test"} 1.0' in text
