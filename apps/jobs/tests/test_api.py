"""The jobs API (docs/api.md, "Jobs"; docs/jobs.md), owner-scoped."""

from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from rq import Queue
from rq.job import Job as RQJob

from apps.core.redis_clients import queue_redis
from apps.jobs.models import Job
from apps.jobs.services import job_test_start

pytestmark = pytest.mark.django_db

JOB_FIELDS = {
    "id", "name", "queue", "status", "result", "error", "attempts", "progress",
    "request_id", "created_at", "started_at", "completed_at", "scheduled_for",
    "cancel_requested",
}  # fmt: skip


def make_job(owner, **fields) -> Job:
    fields = {"name": "test", "queue": "default", "timeout": 60, "max_retries": 2, **fields}
    return Job.objects.create(owner=owner, **fields)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("slash", ["", "/"])
def test_post_test_job_answers_202_queued_and_the_job_runs(owner_client, user, run_jobs, slash):
    response = owner_client.post(
        "/api/v1/jobs/test" + slash,
        {"duration": 0, "payload": {"hello": "world"}},
        format="json",
        HTTP_X_REQUEST_ID="req-api-1",
    )

    assert response.status_code == 202
    body = response.json()
    assert body["success"] is True
    assert body["data"] == {"job_id": body["data"]["job_id"], "status": "queued"}
    job = Job.objects.get(pk=body["data"]["job_id"])
    assert body["data"]["job_id"] == str(job.id)
    assert (job.owner, job.status, job.request_id) == (user, "pending", "req-api-1")

    run_jobs()
    data = owner_client.get(f"/api/v1/jobs/{job.id}").json()["data"]
    assert set(data) == JOB_FIELDS
    assert data["status"] == "completed"
    assert data["result"] == {"hello": "world"}
    assert (data["attempts"], data["progress"], data["error"]) == (1, 100, None)
    assert data["request_id"] == "req-api-1"
    assert data["completed_at"].endswith("Z") or data["completed_at"].endswith("+00:00")


@pytest.mark.django_db(transaction=True)
def test_post_test_job_with_an_empty_body_uses_the_defaults(owner_client, run_jobs):
    response = owner_client.post("/api/v1/jobs/test")
    assert response.status_code == 202
    run_jobs()
    job = Job.objects.get(pk=response.json()["data"]["job_id"])
    assert (job.status, job.queue, job.result) == ("completed", "default", {})


@pytest.mark.django_db(transaction=True)
def test_post_test_job_goes_to_the_queue_asked_for(owner_client):
    response = owner_client.post("/api/v1/jobs/test", {"queue": "high_priority"}, format="json")
    job_id = response.json()["data"]["job_id"]
    assert job_id in Queue("high_priority", connection=queue_redis()).job_ids
    assert Job.objects.get(pk=job_id).queue == "high_priority"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"duration": 31}, "duration"),
        ({"duration": -1}, "duration"),
        ({"duration": "soon"}, "duration"),
        ({"queue": "urgent"}, "queue"),
        ({"payload": [1, 2]}, "payload"),
        ({"fail": "perhaps"}, "fail"),
    ],
)
def test_post_test_job_refuses_bad_input_naming_the_field(owner_client, body, field):
    response = owner_client.post("/api/v1/jobs/test", body, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert [detail["field"] for detail in error["details"]] == [field]
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_post_test_job_with_redis_down_is_503_and_the_job_is_failed(owner_client, redis_down):
    response = owner_client.post("/api/v1/jobs/test", {}, format="json")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    job = Job.objects.get()
    assert job.status == "failed"
    assert "Redis" in job.error


def test_jobs_need_authentication(api_client):
    assert api_client.get("/api/v1/jobs").status_code == 401
    assert api_client.post("/api/v1/jobs/test").status_code == 401


def test_get_on_the_test_endpoint_is_not_allowed(owner_client):
    assert owner_client.get("/api/v1/jobs/test").status_code == 405


def test_list_shows_only_the_callers_jobs_newest_first(owner_client, user, other_user):
    older = make_job(user)
    newer = make_job(user)
    make_job(other_user)

    response = owner_client.get("/api/v1/jobs")

    body = response.json()
    assert [job["id"] for job in body["data"]] == [str(newer.id), str(older.id)]
    assert body["meta"] == {"page": 1, "per_page": 20, "total": 2, "total_pages": 1}


def test_list_filters_by_status_and_name_and_pages_with_limit(owner_client, user):
    for _ in range(3):
        make_job(user, status="pending")
    make_job(user, status="failed")
    make_job(user, status="pending", name="generate_embedding")

    body = owner_client.get("/api/v1/jobs/?status=pending&name=test&limit=2").json()

    assert body["meta"] == {"page": 1, "per_page": 2, "total": 3, "total_pages": 2}
    assert {job["status"] for job in body["data"]} == {"pending"}
    assert {job["name"] for job in body["data"]} == {"test"}


def test_list_refuses_an_unknown_status(owner_client):
    response = owner_client.get("/api/v1/jobs?status=done")
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "status"


def test_another_users_job_is_not_found(owner_client, other_user):
    theirs = make_job(other_user, status="failed")

    for response in (
        owner_client.get(f"/api/v1/jobs/{theirs.id}"),
        owner_client.post(f"/api/v1/jobs/{theirs.id}/retry"),
        owner_client.post(f"/api/v1/jobs/{theirs.id}/cancel"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"
    theirs.refresh_from_db()
    assert theirs.status == "failed"


@pytest.mark.parametrize("job_id", ["8d0e8c1e-52c4-4a7e-9f3e-2b8f1f0c9a11", "not-a-uuid", "1234"])
def test_unknown_or_malformed_job_ids_are_not_found(owner_client, job_id):
    assert owner_client.get(f"/api/v1/jobs/{job_id}").status_code == 404


@pytest.mark.parametrize("slash", ["", "/"])
def test_cancel_a_pending_job_takes_it_off_the_queue(
    owner_client, user, run_jobs, django_capture_on_commit_callbacks, slash
):
    with django_capture_on_commit_callbacks(execute=True):
        job = job_test_start(owner=user, payload={"ran": True})
    assert Queue("default", connection=queue_redis()).count == 1

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(f"/api/v1/jobs/{job.id}/cancel{slash}")

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["status"] == "cancelled"
    assert data["completed_at"] is not None
    assert Queue("default", connection=queue_redis()).count == 0
    run_jobs()
    job.refresh_from_db()
    assert (job.status, job.result, job.attempts) == ("cancelled", None, 0)


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
def test_cancel_of_a_finished_job_is_a_conflict(owner_client, user, status):
    job = make_job(user, status=status)

    response = owner_client.post(f"/api/v1/jobs/{job.id}/cancel")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CONFLICT"
    job.refresh_from_db()
    assert job.status == status


def test_retry_a_failed_job_queues_it_again_keeping_its_attempts(
    owner_client, user, run_jobs, django_capture_on_commit_callbacks
):
    job = make_job(user, status="failed", attempts=3, error="boom", kwargs={"payload": {"n": 1}})

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(f"/api/v1/jobs/{job.id}/retry")

    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["status"], data["attempts"], data["completed_at"]) == ("pending", 3, None)
    assert RQJob.fetch(str(job.id), connection=queue_redis()).get_status() == "queued"
    run_jobs()
    job.refresh_from_db()
    assert (job.status, job.attempts, job.result, job.error) == ("completed", 4, {"n": 1}, "")
    assert job.max_retries == 3 + 2, "the task's two retries again, after its three attempts"


@pytest.mark.parametrize("status", ["pending", "running", "completed", "cancelled"])
def test_retry_of_a_job_that_is_not_failed_is_a_conflict(owner_client, user, status):
    job = make_job(user, status=status)
    response = owner_client.post(f"/api/v1/jobs/{job.id}/retry")
    assert response.status_code == 409
    job.refresh_from_db()
    assert job.status == status


@pytest.mark.django_db(transaction=True)
def test_retry_with_redis_down_is_503_and_the_job_stays_failed(owner_client, user, redis_down):
    job = make_job(user, status="failed", attempts=3)

    response = owner_client.post(f"/api/v1/jobs/{job.id}/retry")

    assert response.status_code == 503
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("failed", 3)
    assert "Redis" in job.error


def test_jobs_are_in_the_openapi_schema(api_client):
    paths = api_client.get("/api/v1/openapi.json").json()["paths"]
    assert {"/api/v1/jobs", "/api/v1/jobs/test", "/api/v1/jobs/{id}"} <= set(paths)
    assert "409" in paths["/api/v1/jobs/{id}/cancel"]["post"]["responses"]
    assert "202" in paths["/api/v1/jobs/test"]["post"]["responses"]


def test_info_lists_jobs_and_events(api_client):
    features = api_client.get("/api/v1/info").json()["data"]["features_enabled"]
    assert {"jobs", "events"} <= set(features)


def test_cancel_of_a_running_job_is_202_and_asks_its_worker_to_stop(
    owner_client, user, django_capture_on_commit_callbacks, monkeypatch
):
    job = make_job(user, status="running", attempts=1)
    stopped = []
    monkeypatch.setattr("apps.jobs.engine.stop_running", stopped.append)

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(f"/api/v1/jobs/{job.id}/cancel")

    assert response.status_code == 202
    data = response.json()["data"]
    assert (data["status"], data["cancel_requested"]) == ("running", True)
    assert stopped == [job.id]
    # Asked twice: the same answer, not a conflict.
    assert owner_client.post(f"/api/v1/jobs/{job.id}/cancel").status_code == 202


@pytest.mark.django_db(transaction=True)
def test_a_delayed_test_job_is_scheduled_with_its_time_and_not_queued(owner_client, user):
    before = timezone.now()
    response = owner_client.post("/api/v1/jobs/test", {"delay": 120}, format="json")

    assert response.status_code == 202
    body = response.json()["data"]
    assert body["status"] == "scheduled"
    detail = owner_client.get(f"/api/v1/jobs/{body['job_id']}").json()["data"]
    assert detail["status"] == "scheduled"
    due = datetime.fromisoformat(detail["scheduled_for"])
    assert before + timedelta(seconds=119) < due < timezone.now() + timedelta(seconds=121)
    assert all(Queue(name, connection=queue_redis()).count == 0 for name in settings.RQ_QUEUES)

    cancelled = owner_client.post(f"/api/v1/jobs/{body['job_id']}/cancel")
    assert (cancelled.status_code, cancelled.json()["data"]["status"]) == (200, "cancelled")


@pytest.mark.django_db(transaction=True)
def test_a_job_never_delayed_has_no_scheduled_for(owner_client):
    response = owner_client.post("/api/v1/jobs/test", {"delay": 0}, format="json")
    assert response.json()["data"]["status"] == "queued"
    detail = owner_client.get(f"/api/v1/jobs/{response.json()['data']['job_id']}").json()
    assert detail["data"]["scheduled_for"] is None


@pytest.mark.parametrize("delay", [-1, 86401, "soon", True])
def test_a_delay_out_of_range_is_a_validation_error_naming_it(owner_client, delay):
    response = owner_client.post("/api/v1/jobs/test", {"delay": delay}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "delay"


def test_a_payload_over_16_kib_is_a_validation_error_naming_it(owner_client):
    response = owner_client.post(
        "/api/v1/jobs/test", {"payload": {"text": "x" * (16 * 1024)}}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "payload"
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_user_at_the_active_job_cap_gets_429_on_start_and_retry(owner_client, user, settings):
    settings.JOBS_MAX_ACTIVE_PER_USER = 3
    failed = make_job(user, status="failed", attempts=3)
    for status in ("scheduled", "pending", "running"):
        make_job(user, status=status)
    make_job(user, status="completed")

    started = owner_client.post("/api/v1/jobs/test", {}, format="json")
    retried = owner_client.post(f"/api/v1/jobs/{failed.id}/retry")

    for response in (started, retried):
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "RATE_LIMITED"
        assert response["Retry-After"]
        # The request rates still have room; the answer says none is left all the same.
        assert int(response["X-RateLimit-Limit"]) > 0
        assert response["X-RateLimit-Remaining"] == "0"
    failed.refresh_from_db()
    assert failed.status == "failed"
    Job.objects.filter(status="running").update(status="completed")
    assert owner_client.post("/api/v1/jobs/test", {}, format="json").status_code == 202


@pytest.mark.django_db(transaction=True)
def test_the_active_job_cap_set_to_0_asks_the_database_nothing(
    owner_client, user, settings, django_assert_num_queries
):
    from apps.jobs.services import check_active_cap

    settings.JOBS_MAX_ACTIVE_PER_USER = 0
    for _ in range(3):
        make_job(user, status="pending")
    with django_assert_num_queries(0):
        check_active_cap(user=user)
    settings.JOBS_MAX_ACTIVE_PER_USER = 3
    with django_assert_num_queries(1):
        with pytest.raises(Exception, match="3 jobs"):
            check_active_cap(user=user)


def test_retry_counts_against_the_jobs_rate_limit(owner_client, user, settings):
    settings.RATE_LIMIT_JOBS_PER_MINUTE = 2
    jobs = [make_job(user, status="completed") for _ in range(3)]

    answers = [owner_client.post(f"/api/v1/jobs/{job.id}/retry").status_code for job in jobs]

    assert answers == [409, 409, 429]


@pytest.mark.django_db(transaction=True)
def test_requests_arriving_together_never_take_a_user_past_the_active_job_cap(
    user, settings, monkeypatch
):
    """Each request counts the user's active jobs and then adds one: without a step per user,
    requests arriving together all count the same jobs and all get in."""
    import threading

    from django.db import connection, connections

    from apps.core.exceptions import RateLimitedError
    from apps.jobs import engine

    if connection.vendor != "postgresql":
        pytest.skip("SQLite's write transactions take turns; its test database is per thread")
    settings.JOBS_MAX_ACTIVE_PER_USER = 3
    arrived = threading.Barrier(8)
    counted = threading.Barrier(8, timeout=2)
    real_enqueue = engine.enqueue

    def enqueue_after_everyone_counted(*args, **kwargs):
        # Widen the race: every request has counted before any adds its job. With the cap
        # held per user, the others wait at the lock instead and this barrier times out.
        try:
            counted.wait()
        except threading.BrokenBarrierError:
            pass
        return real_enqueue(*args, **kwargs)

    monkeypatch.setattr(engine, "enqueue", enqueue_after_everyone_counted)
    outcomes: list[str] = []

    def request() -> None:
        arrived.wait()
        try:
            job_test_start(owner=user)
            outcomes.append("accepted")
        except RateLimitedError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["accepted"] * 3 + ["refused"] * 5
    assert Job.objects.filter(owner=user).count() == 3
