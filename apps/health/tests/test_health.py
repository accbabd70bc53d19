"""/health, /health/live, /health/ready and /api/v1/info (docs/api.md, "Health")."""

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.db import OperationalError
from rq import Worker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def live_worker(redis_queue) -> Iterator[Worker]:
    """A worker registered in Redis with a fresh heartbeat, as a running rqworker has."""
    worker = Worker(["default"], connection=redis_queue)
    worker.register_birth()
    worker.heartbeat()
    yield worker
    worker.register_death()


@pytest.fixture
def database_down(monkeypatch) -> None:
    from django.db.backends.base.base import BaseDatabaseWrapper

    def refuse(self):
        raise OperationalError("connection refused")

    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", refuse)


@pytest.fixture
def hung_redis(settings) -> Iterator[str]:
    """A server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    url = f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    settings.REDIS_CACHE_URL = url
    settings.REDIS_QUEUE_URL = url
    yield url
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def test_healthy_when_every_dependency_answers(api_client, live_worker):
    response = api_client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    services = {"database": "connected", "redis": "connected", "task_queue": "connected"}
    assert body["services"] == services
    assert {k: body[k] for k in services} == services
    assert body["version"] == "1.0.0"
    assert isinstance(body["uptime"], int) and body["uptime"] >= 0
    assert "success" not in body, "health is not enveloped"


def test_degraded_without_a_worker(api_client):
    body = api_client.get("/health").json()
    assert body["status"] == "degraded"
    assert body["task_queue"] == "disconnected"
    assert body["redis"] == "connected"


def test_a_worker_whose_heartbeat_is_stale_does_not_count(api_client, live_worker, settings):
    stale = datetime.now(UTC) - timedelta(seconds=settings.RQ_WORKER_HEARTBEAT_WINDOW + 5)
    live_worker.connection.hset(
        live_worker.key, "last_heartbeat", stale.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    )
    assert api_client.get("/health").json()["task_queue"] == "disconnected"


def test_degraded_with_redis_down(api_client, redis_down):
    response = api_client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["redis"] == "disconnected"
    assert body["task_queue"] == "disconnected"
    assert body["database"] == "connected"


def test_a_hung_redis_does_not_hang_health(api_client, hung_redis):
    started = time.monotonic()
    response = api_client.get("/health")
    elapsed = time.monotonic() - started
    body = response.json()
    assert body["status"] == "degraded"
    assert body["redis"] == "disconnected"
    # A generous bound: without probe timeouts this request would never return.
    assert elapsed < 30


def test_unhealthy_503_with_the_database_down(api_client, database_down):
    response = api_client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["database"] == "disconnected"


def test_live_touches_no_dependency(api_client, database_down, redis_down):
    response = api_client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


def test_live_answers_json_with_the_request_headers_and_other_methods_as_usual(api_client):
    response = api_client.get("/health/live", HTTP_X_REQUEST_ID="probe-1")
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "alive"}
    assert response["X-Request-ID"] == "probe-1"
    assert float(response["X-Process-Time"]) >= 0
    assert api_client.head("/health/live").status_code == 200
    assert api_client.options("/health/live").status_code == 200
    refused = api_client.post("/health/live")
    assert refused.status_code == 405
    assert refused.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_ready_follows_the_database(api_client):
    response = api_client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


def test_not_ready_with_the_database_down(api_client, database_down):
    response = api_client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["database"] == "disconnected"


def test_health_needs_no_credentials_even_with_a_bad_token(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert api_client.get("/health/live").status_code == 200


def test_info_is_enveloped(api_client, settings):
    settings.ENVIRONMENT = "staging"
    body = api_client.get("/api/v1/info").json()
    assert body["success"] is True
    assert body["data"]["api_version"] == "1.0.0"
    assert body["data"]["environment"] == "staging"
    assert "health" in body["data"]["features_enabled"]
