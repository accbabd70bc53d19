"""Faults with a real server and real workers (docs/reliability.md, "Faults"): Redis stopped under
traffic, Redis hanging (accepting connections, never answering), PostgreSQL stopped, and
recovery from both without restarting anything.

Each test runs its own Redis (and, for the PostgreSQL test, its own PostgreSQL cluster), so
stopping it touches nothing else on the machine.
"""

import os
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from devstack.net import free_port
from devstack.postgres import PostgresCluster, postgres_bin, throwaway_database
from devstack.processes import Process
from devstack.redis import RedisServer
from tests.system.helpers import (
    BlackHole,
    api_and_worker,
    http_full,
    issue_token,
    migrate,
    record_figures,
    start_api,
    unthrottled_env,
    wait_for,
)

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("faults")]


class Stack(NamedTuple):
    base: str
    token: str
    api: Process
    worker: Process
    redis: RedisServer
    env: dict[str, str]


def stack_env(database_url: str, redis: RedisServer | BlackHole, tmp: Path) -> dict[str, str]:
    return unthrottled_env(
        DATABASE_URL=database_url,
        REDIS_URL=redis.url,
        VAR_DIR=str(tmp / "var"),
        RQ_WORKER_TTL="16",
        JOBS_WORKER_LOST_AFTER="12",
    )


@pytest.fixture
def stack(tmp_path) -> Iterator[Stack]:
    redis = RedisServer(tmp_path / "redis").start()
    try:
        with throwaway_database(tmp_path) as database_url:
            env = stack_env(database_url, redis, tmp_path)
            with api_and_worker(env, "faults") as (base, token, api, worker):
                yield Stack(base, token, api, worker, redis, env)
    finally:
        redis.stop()


def health(base: str) -> tuple[int, dict[str, Any]]:
    status, _, body = http_full(f"{base}/health", timeout=10)
    return status, body


class Traffic:
    """Clients reading memories in a loop, counting every answer by status."""

    def __init__(self, base: str, token: str, paths: list[str], clients: int = 4) -> None:
        self.statuses: Counter[int] = Counter()
        self.cache: Counter[str] = Counter()
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(base, token, paths), daemon=True)
            for _ in range(clients)
        ]
        for thread in self._threads:
            thread.start()

    def _run(self, base: str, token: str, paths: list[str]) -> None:
        index = 0
        while not self._stop.is_set():
            path = paths[index % len(paths)]
            index += 1
            try:
                status, headers, body = http_full(f"{base}{path}", token=token)
            except OSError as exc:
                status, headers, body = 0, {}, str(exc)
            with self._lock:
                self.statuses[status] += 1
                self.cache[headers.get("X-Cache", "-")] += 1
                if status != 200:
                    self.failures.append(f"{path}: {status} {body}")

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    @property
    def total(self) -> int:
        return sum(self.statuses.values())


def test_redis_stopped_under_traffic_reads_answer_jobs_503_and_all_recovers(stack):
    created = [
        http_full(f"{stack.base}/api/v1/memories", "POST", {"content": f"note {i}"}, stack.token)
        for i in range(3)
    ]
    ids = [body["data"]["id"] for status, _, body in created if status == 201]
    assert len(ids) == 3
    wait_for(lambda: health(stack.base)[1]["status"] == "healthy", 60, "a healthy stack")
    traffic = Traffic(
        stack.base, stack.token, ["/api/v1/memories", *[f"/api/v1/memories/{i}" for i in ids]]
    )
    try:
        wait_for(lambda: traffic.total >= 20, 30, "traffic before the outage")
        stack.redis.stop()
        before_outage = traffic.total

        status, body = wait_for(
            lambda: (answer := health(stack.base))[1]["redis"] == "disconnected" and answer,
            30,
            "/health to see Redis down",
        )
        assert (status, body["status"]) == (200, "degraded")
        listed = http_full(f"{stack.base}/api/v1/memories", token=stack.token)
        assert (listed[0], listed[1]["X-Cache"]) == (200, "BYPASS")
        job = http_full(f"{stack.base}/api/v1/jobs/test", "POST", {}, stack.token)
        assert job[0] == 503
        assert job[2]["error"]["code"] == "SERVICE_UNAVAILABLE"
        written = http_full(
            f"{stack.base}/api/v1/memories", "POST", {"content": "during"}, stack.token
        )
        assert written[0] == 201
        wait_for(lambda: traffic.total >= before_outage + 20, 60, "reads during the outage")
        during_outage = traffic.total - before_outage

        stack.redis.start()
        wait_for(
            lambda: health(stack.base)[1]["status"] == "healthy",
            120,
            "/health healthy again, the worker back on Redis",
        )
        accepted = http_full(
            f"{stack.base}/api/v1/jobs/test", "POST", {"payload": {"after": 1}}, stack.token
        )
        assert accepted[0] == 202
        job_url = f"{stack.base}/api/v1/jobs/{accepted[2]['data']['job_id']}"
        finished = wait_for(
            lambda: (
                (j := http_full(job_url, token=stack.token)[2]["data"])["status"] == "completed"
                and j
            ),
            60,
            "a job queued after the recovery to complete",
        )
        assert finished["result"] == {"after": 1}
        wait_for(lambda: traffic.cache["HIT"] > 0, 30, "cache hits again")
        hits_before = traffic.cache["HIT"]
        wait_for(lambda: traffic.cache["HIT"] > hits_before, 30, "more cache hits")
    finally:
        traffic.stop()

    assert traffic.failures == []
    assert traffic.statuses[200] == traffic.total
    record_figures(
        "fault-redis-stopped",
        "pytest -n0 tests/system/test_faults.py -k redis",
        reads=traffic.total,
        reads_during_outage=during_outage,
        read_errors=len(traffic.failures),
        job_create_during_outage="503 SERVICE_UNAVAILABLE",
        health_during_outage="200 degraded",
        recovered_without_restart=True,
    )


@pytest.fixture
def hung_redis_api(tmp_path) -> Iterator[tuple[str, str, BlackHole]]:
    """An API (runserver, no worker) whose Redis accepts connections and never answers, with
    the password-login limits on."""
    hole = BlackHole()
    try:
        with throwaway_database(tmp_path) as database_url:
            env = stack_env(database_url, hole, tmp_path)
            env["RATE_LIMIT_LOGIN_IP_PER_MINUTE"] = "30"
            migrate(env)
            token = issue_token(env, "hung@example.com")
            port = free_port()
            api = start_api(env, port)
            try:
                yield f"http://127.0.0.1:{port}", token, hole
            finally:
                api.stop()
    finally:
        hole.close()


def test_a_hung_redis_costs_each_request_at_most_one_redis_timeout(hung_redis_api):
    """Every call below wants Redis several times (throttle, token user, cache, queue,
    events); each waits on it at most once (a new connection to the listener is a wait), and
    answers as with Redis stopped: reads uncached, memories saved, jobs and logins 503."""
    base, token, hole = hung_redis_api
    figures = {}

    def call(name: str, method: str, path: str, body: Any, expected: int) -> Any:
        before = hole.accepted
        status, headers, answer = http_full(f"{base}{path}", method, body, token, timeout=30)
        waits = hole.accepted - before
        figures[name] = (
            f"{status} in {float(headers['X-Process-Time']):.2f} s, Redis waits: {waits}"
        )
        assert status == expected, (name, answer)
        assert waits <= 1, (name, waits)
        return headers, answer

    _, answer = call("memory_create", "POST", "/api/v1/memories", {"content": "kept"}, 201)
    created = answer["data"]["id"]
    headers, _ = call("memory_list", "GET", "/api/v1/memories", None, 200)
    assert headers["X-Cache"] == "BYPASS"
    call("memory_detail", "GET", f"/api/v1/memories/{created}", None, 200)
    _, answer = call("job_create", "POST", "/api/v1/jobs/test", {}, 503)
    assert answer["error"]["code"] == "SERVICE_UNAVAILABLE"
    login = {"email": "hung@example.com", "password": "no-Such-passw0rd"}
    _, answer = call("login", "POST", "/api/v1/auth/login", login, 503)
    assert answer["error"]["code"] == "SERVICE_UNAVAILABLE"

    status, body = health(base)
    assert (status, body["status"], body["redis"]) == (200, "degraded", "disconnected")
    record_figures(
        "fault-redis-hung",
        "pytest -n0 tests/system/test_faults.py -k hung",
        redis="a listener that accepts connections and never answers",
        **figures,
    )


@pytest.fixture
def postgres_stack(tmp_path) -> Iterator[tuple[Stack, PostgresCluster]]:
    if postgres_bin() is None or not shutil.which("runuser"):
        if os.environ.get("CI") == "true":
            pytest.fail("CI must have PostgreSQL's server binaries (initdb, pg_ctl)")
        pytest.skip("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
    cluster = PostgresCluster().init()
    redis = RedisServer(tmp_path / "redis").start()
    try:
        env = stack_env(cluster.url, redis, tmp_path)
        with api_and_worker(env, "pg-faults") as (base, token, api, worker):
            yield Stack(base, token, api, worker, redis, env), cluster
    finally:
        redis.stop()
        cluster.destroy()


def test_postgresql_stopped_answers_503_in_the_envelope_and_recovers(postgres_stack):
    stack, cluster = postgres_stack
    created = http_full(f"{stack.base}/api/v1/memories", "POST", {"content": "kept"}, stack.token)
    assert created[0] == 201
    wait_for(lambda: health(stack.base)[0] == 200, 60, "a healthy stack")

    cluster.stop()

    status, body = health(stack.base)
    assert (status, body["status"], body["database"]) == (503, "unhealthy", "disconnected")
    assert http_full(f"{stack.base}/health/live")[0] == 200
    calls = [
        ("GET", "/api/v1/memories", None),
        ("GET", f"/api/v1/memories/{created[2]['data']['id']}", None),
        ("POST", "/api/v1/memories", {"content": "lost?"}),
        ("GET", "/api/v1/users/me", None),
        ("POST", "/api/v1/jobs/test", {}),
        ("POST", "/api/v1/auth/login", {"email": "pg-faults@example.com", "password": "x"}),
    ]
    answers = [http_full(f"{stack.base}{path}", method, body, stack.token)
               for method, path, body in calls]  # fmt: skip
    for (method, path, _), (status, headers, body) in zip(calls, answers, strict=True):
        assert status == 503, (method, path, status, body)
        assert headers["Content-Type"] == "application/json", (method, path)
        assert body["error"]["code"] == "SERVICE_UNAVAILABLE", (method, path)

    cluster.start()
    wait_for(
        lambda: http_full(f"{stack.base}/api/v1/memories", token=stack.token)[0] == 200,
        60,
        "the API to answer again",
    )
    wait_for(lambda: health(stack.base)[1]["status"] == "healthy", 60, "/health healthy")
    after = http_full(f"{stack.base}/api/v1/memories", "POST", {"content": "after"}, stack.token)
    assert after[0] == 201
    listed = http_full(f"{stack.base}/api/v1/memories", token=stack.token)[2]["data"]
    assert [m["content"] for m in listed] == ["after", "kept"]
    record_figures(
        "fault-postgresql-stopped",
        "pytest -n0 tests/system/test_faults.py -k postgresql",
        database="postgresql (a throwaway cluster of the test)",
        api_calls_during_outage=len(calls),
        answered_503_envelope=len(calls),
        health_during_outage="503 unhealthy",
        recovered_without_restart=True,
    )
