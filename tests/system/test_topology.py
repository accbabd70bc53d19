"""The production topology without Docker (devstack/topology.py, `make stack-prod`): nginx
in front of two api processes (granian) and the event stream's ASGI server, two RQ workers, the
machine's PostgreSQL and Redis.

It uses its own PostgreSQL database and Redis databases 14/15, which no other test touches.
The topology starts once for the module; the load test runs on it before the test that kills
an api process. `LOAD_PROD_CLIENTS` and `LOAD_PROD_SECONDS` size the load test (`make load-prod`
runs 64 clients for 60 s).
"""

import math
import os
import re
import shutil
import time
import uuid
from collections import Counter

import psycopg
import pytest
import redis

from devstack.net import free_port
from devstack.nginx import nginx_binary
from devstack.postgres import create_database, database_url, drop_database
from devstack.redis import flush_redis
from devstack.topology import Topology, TopologyError
from tests.system.helpers import (
    NO_RATE_LIMITS,
    http_from,
    http_full,
    http_json,
    record_figures,
    wait_for,
)
from tests.system.load import (
    MIXED,
    Client,
    first_errors,
    lost_writes,
    run_clients,
    summary,
    wait_for_jobs,
)
from tests.system.sse import EventStream

# The server processes of each api process, and the database connections each pools.
SERVER_PROCESSES = 2
POOL_SIZE = 4

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("topology")]

PG_ADMIN = os.environ.get("TANKA_TOPOLOGY_PG", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("TANKA_TOPOLOGY_REDIS", "redis://127.0.0.1:6379/0")
QUEUE_DB, CACHE_DB = 14, 15
LOAD_CLIENTS = int(os.environ.get("LOAD_PROD_CLIENTS", "64"))
LOAD_SECONDS = float(os.environ.get("LOAD_PROD_SECONDS", "20"))
CLIENTS_PER_USER = 8


def missing_dependency() -> str | None:
    if nginx_binary() is None:
        return "nginx is not installed (apt-get install nginx; .ci/run installs it)"
    try:
        psycopg.connect(PG_ADMIN, connect_timeout=2).close()
    except psycopg.Error as exc:
        return f"PostgreSQL does not answer at {PG_ADMIN}: {exc}"
    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis does not answer at {REDIS}: {exc}"
    return None


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    reason = missing_dependency()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the topology test must run in CI: {reason}")
        pytest.skip(reason)
    database = database_url(PG_ADMIN, f"tanka_topology_{uuid.uuid4().hex[:8]}")
    create_database(database)
    flush_redis(REDIS, QUEUE_DB, CACHE_DB)
    run_dir = tmp_path_factory.mktemp("topology")
    stack = Topology(
        run_dir=run_dir,
        database_url=database,
        redis_url=REDIS,
        queue_db=QUEUE_DB,
        cache_db=CACHE_DB,
        nginx_port=free_port(),
        # Rate limits are not what this module is about: its polling and its load test must
        # never be refused, so every limit is off.
        env={
            "GRANIAN_WORKERS": str(SERVER_PROCESSES),
            "DATABASE_POOL_SIZE": str(POOL_SIZE),
            "LOG_FORMAT": "text",
            "EVENTS_PING_SECONDS": "1",
            **NO_RATE_LIMITS,
        },
    )
    try:
        stack.prepare()
        stack.start()
        yield stack
    except TopologyError as exc:
        pytest.fail(str(exc))
    finally:
        stack.stop()
        drop_database(database)
        flush_redis(REDIS, QUEUE_DB, CACHE_DB)
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def token(topology):
    status, body = http_json(
        f"{topology.base_url}/api/v1/auth/register",
        method="POST",
        body={"email": "ops@example.com", "password": "Sturdy-Passw0rd-99"},
    )
    assert status == 201, body
    return body["data"]["access_token"]


def test_the_module_runs_on_one_xdist_worker(request):
    """Its tests share one topology, on Redis databases no other topology may use: two
    workers running them would start two (the root conftest keeps xdist's grouping)."""
    if getattr(request.config.option, "loadgroup", False):
        assert request.node.nodeid.endswith("@topology")


def request_ids_served(topology, name: str) -> set[str]:
    return set(re.findall(r"\[(topo-[\w-]+)\]", topology.children[name].output))


def test_requests_through_nginx_reach_both_api_processes(topology):
    sent = {f"topo-live-{index}" for index in range(20)}
    for request_id in sorted(sent):
        status, body = http_json(
            f"{topology.base_url}/health/live", headers={"X-Request-ID": request_id}
        )
        assert (status, body) == (200, {"status": "alive"})

    first, second = request_ids_served(topology, "api-1"), request_ids_served(topology, "api-2")
    assert first and second, "nginx sent every request to one api process"
    assert first | second == sent
    assert not first & second


def test_a_request_without_an_id_gets_a_uuid4_that_nginx_logs_too(topology):
    status, headers, _ = http_full(f"{topology.base_url}/health/live")

    assert status == 200
    request_id = headers["X-Request-ID"]
    assert uuid.UUID(request_id).version == 4
    assert str(uuid.UUID(request_id)) == request_id
    wait_for(
        lambda: request_id in topology.nginx_access_log.read_text(),
        10,
        "nginx's access-log line with the api's request id",
    )


def test_jobs_enqueued_through_either_api_process_run_once_on_a_worker(topology, token):
    job_ids = []
    for index in range(12):
        status, body = http_json(
            f"{topology.base_url}/api/v1/jobs/test",
            method="POST",
            body={"payload": {"n": index}},
            token=token,
            headers={"X-Request-ID": f"topo-job-{index}"},
        )
        assert status == 202, body
        job_ids.append(body["data"]["job_id"])
    enqueued_by = [
        name
        for name in ("api-1", "api-2")
        if any(rid.startswith("topo-job-") for rid in request_ids_served(topology, name))
    ]
    assert enqueued_by == ["api-1", "api-2"]

    def all_completed():
        url = f"{topology.base_url}/api/v1/jobs?status=completed&per_page=1"
        return http_json(url, token=token)[1]["meta"]["total"] == len(job_ids)

    wait_for(all_completed, 60, "every job to complete", interval=0.5)
    states = [
        http_json(f"{topology.base_url}/api/v1/jobs/{job_id}", token=token)[1]["data"]
        for job_id in job_ids
    ]
    assert [state["result"] for state in states] == [{"n": index} for index in range(12)]
    assert {state["attempts"] for state in states} == {1}

    with psycopg.connect(topology.database_url) as connection:
        rows = connection.execute(
            "SELECT id::text, worker_name FROM jobs_job WHERE id = ANY(%s::uuid[])", (job_ids,)
        ).fetchall()
    assert len(rows) == 12
    assert all(re.match(r"worker-[12]-", worker) for _, worker in rows), rows
    completions = Counter()
    for name in ("worker-1", "worker-2"):
        for job_id in re.findall(r"job (\S+) test completed", topology.children[name].output):
            completions[job_id.replace("-", "")] += 1
    assert {job_id.replace("-", ""): 1 for job_id in job_ids} == dict(completions)


def test_the_event_stream_passes_through_nginx_from_its_asgi_server(topology, token):
    url = f"{topology.base_url}/api/v1/events"
    stream = EventStream(url, {"Authorization": f"Bearer {token}", "X-Request-ID": "topo-sse"})
    try:
        assert (stream.status, stream.content_type) == (200, "text/event-stream")
        # Unbuffered: a ping, a few bytes, reaches the client while the stream stays open.
        assert stream.next(20) == ": ping"
        status, body = http_json(
            f"{topology.base_url}/api/v1/memories", "POST", {"content": "streamed"}, token
        )
        assert status == 201, body
        while True:
            event = stream.next_event(20)
            if event.event == "memory.created":
                break
        assert event.json["id"] == body["data"]["id"]
    finally:
        stream.close()
    # The stream was served by the ASGI server, the write by an api process.
    assert "topo-sse" in topology.children["events"].output
    assert "topo-sse" not in topology.children["api-1"].output + topology.children["api-2"].output

    status, body = http_json(f"{topology.base_url}/api/v1/events/tickets", "POST", token=token)
    assert status == 201, body
    by_ticket = EventStream(f"{url}?ticket={body['data']['ticket']}")
    try:
        assert by_ticket.status == 200
    finally:
        by_ticket.close()


def test_load_of_mixed_clients_gets_no_error_and_loses_no_write_or_job(topology):
    """LOAD_CLIENTS clients (one user per CLIENTS_PER_USER of them) for LOAD_SECONDS through
    nginx: memory creates, updates, list and detail reads, job creation and job status reads.
    Every answer is the expected 2xx, and afterwards each user's memories are exactly the
    acknowledged creates with their last acknowledged content, and every acknowledged job is
    `completed` with its payload as result."""
    assert topology.dead_children() == []
    base = topology.base_url
    tokens = []
    for index in range(math.ceil(LOAD_CLIENTS / CLIENTS_PER_USER)):
        status, body = http_json(
            f"{base}/api/v1/auth/register",
            method="POST",
            body={"email": f"load{index}@example.com", "password": "Load-test-pass-42"},
        )
        assert status == 201, body
        tokens.append(body["data"]["access_token"])

    deadline = time.monotonic() + LOAD_SECONDS
    clients = [
        Client(base, tokens[seed // CLIENTS_PER_USER], deadline, seed, MIXED)
        for seed in range(LOAD_CLIENTS)
    ]
    run_clients(clients, LOAD_SECONDS)
    figures = summary(clients, LOAD_SECONDS)
    assert first_errors(clients) == [], figures
    lost = lost_writes(base, clients)
    assert lost == []
    waited = wait_for_jobs(base, clients, timeout=180)
    assert topology.dead_children() == []

    record_figures(
        "load-prod-topology",
        f"LOAD_PROD_CLIENTS={LOAD_CLIENTS} LOAD_PROD_SECONDS={LOAD_SECONDS:g} pytest -n0 "
        "tests/system/test_topology.py -k load",
        database="postgresql (the machine's server, a database of the test's own)",
        topology="nginx, 2 granian api processes (2 workers each), 2 RQ workers",
        clients=LOAD_CLIENTS,
        users=len(tokens),
        seconds=LOAD_SECONDS,
        **figures,
        memories_verified=sum(len(client.memories) for client in clients),
        writes_lost=len(lost),
        jobs_completed=figures["jobs_acknowledged"],
        jobs_drained_after_s=round(waited, 1),
    )


def test_https_is_what_the_load_balancer_says_so_hsts_is_sent(topology):
    """nginx believes X-Forwarded-Proto from the load balancer's address only (127.0.0.1
    here), so the api sends HSTS for HTTPS the balancer terminated, and never for a client
    elsewhere (127.0.0.2) claiming it."""
    url = f"{topology.base_url}/api/v1/info"
    https = {"X-Forwarded-Proto": "https"}

    status, headers, _ = http_from("127.0.0.1", url, https)
    assert status == 200
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
    for source, sent in [("127.0.0.1", {}), ("127.0.0.2", https)]:
        status, headers, _ = http_from(source, url, sent)
        assert status == 200
        assert "Strict-Transport-Security" not in headers, (source, sent)
    status, _, _ = http_from("127.0.0.2", url, {"X-Forwarded-Host": "evil.example"})
    assert status == 200


def set_database_connections(database_url: str, allowed: bool) -> None:
    """Open or close the topology's own database to new connections, dropping the open ones
    when closing: a database outage for this topology only, on the machine's server."""
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )


def test_a_database_outage_answers_the_json_503_through_nginx(topology, token):
    """Every api process answers 503 while the database is away: nginx passes each answer on
    (and marks no api process failed), so clients keep getting the error envelope, never
    nginx's own 502 page; with the database back, both api processes answer again."""
    calls = ["/api/v1/jobs", "/api/v1/users/me"] * 3
    answers, seconds = [], []
    set_database_connections(topology.database_url, allowed=False)
    try:
        for path in calls:
            started = time.monotonic()
            answers.append(http_full(f"{topology.base_url}{path}", token=token, timeout=30))
            seconds.append(round(time.monotonic() - started, 2))
    finally:
        set_database_connections(topology.database_url, allowed=True)
    for path, (status, headers, body) in zip(calls, answers, strict=True):
        assert status == 503, (path, status, body)
        assert headers["Content-Type"] == "application/json", path
        assert body["error"]["code"] == "SERVICE_UNAVAILABLE", path

    def both_answer() -> bool:
        # Each server process's pool drops the connections the outage closed and connects
        # again with a backoff; until it has, its requests wait and may time out with a 503.
        # Enough answers in a row for every server process to have answered.
        statuses = [http_json(f"{topology.base_url}/api/v1/jobs", token=token)[0]
                    for _ in range(3 * len(topology.api_ports) * SERVER_PROCESSES)]  # fmt: skip
        return statuses == [200] * len(statuses)

    wait_for(both_answer, 120, "the api processes to answer again", interval=1)
    assert topology.dead_children() == []
    record_figures(
        "database-outage-through-nginx",
        "pytest -n0 tests/system/test_topology.py -k database_outage",
        database="postgresql (the topology's own database closed to connections)",
        answers_503_envelope=len(answers),
        seconds_per_answer=seconds,
    )


# Last: it leaves api-1 dead for the rest of the module.
def test_killing_one_api_process_leaves_the_service_answering(topology, token):
    topology.children["api-1"].kill()
    assert topology.dead_children() == ["api-1"]

    for index in range(10):
        status, body = http_json(f"{topology.base_url}/health/live")
        assert status == 200, body
        status, body = http_json(f"{topology.base_url}/api/v1/memories", token=token)
        assert status == 200, body
        assert body["success"] is True, index
    status, body = http_json(
        f"{topology.base_url}/api/v1/memories",
        method="POST",
        body={"content": "still here"},
        token=token,
    )
    assert status == 201, body


def test_the_api_processes_share_the_cores_unless_told_otherwise(monkeypatch, tmp_path):
    """One api server process per core in all: more only add context switches on 2 cores
    (bench/RESULTS.md, "Process counts")."""
    monkeypatch.delenv("GRANIAN_WORKERS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)

    def per_api(processes: int, **env: str) -> str:
        shape = Topology(run_dir=tmp_path, database_url="sqlite://", api_processes=processes,
                         env=env)  # fmt: skip
        return shape.server_processes_per_api()

    assert (per_api(2), per_api(1), per_api(4)) == ("1", "2", "1")
    assert per_api(2, GRANIAN_WORKERS="3") == "3"
    monkeypatch.setenv("GRANIAN_WORKERS", "4")
    assert per_api(2) == "4"
