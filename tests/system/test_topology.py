"""The production topology without Docker (apps/core/topology.py, `make stack-prod`): nginx
in front of two gunicorn api processes, two RQ workers, the machine's PostgreSQL and Redis.

It uses its own PostgreSQL database and Redis databases 14/15, which no other test touches.
"""

import os
import re
import shutil
import uuid
from collections import Counter

import psycopg
import pytest
import redis

from apps.core.topology import (
    Topology,
    TopologyError,
    create_database,
    drop_database,
    flush_redis,
    free_port,
    nginx_binary,
)
from tests.system.helpers import http_json, wait_for

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("topology")]

PG_ADMIN = os.environ.get("TANKA_TOPOLOGY_PG", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("TANKA_TOPOLOGY_REDIS", "redis://127.0.0.1:6379/0")
QUEUE_DB, CACHE_DB = 14, 15


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
    database = f"tanka_topology_{uuid.uuid4().hex[:8]}"
    create_database(PG_ADMIN, database)
    flush_redis(REDIS, QUEUE_DB, CACHE_DB)
    run_dir = tmp_path_factory.mktemp("topology")
    stack = Topology(
        run_dir=run_dir,
        database_url=PG_ADMIN.rsplit("/", 1)[0] + f"/{database}",
        redis_url=REDIS,
        queue_db=QUEUE_DB,
        cache_db=CACHE_DB,
        nginx_port=free_port(),
        # Rate limits are not what this test is about: its polling must never be refused.
        env={
            "GUNICORN_WORKERS": "2",
            "LOG_FORMAT": "text",
            "RATE_LIMIT_PER_MINUTE": "100000",
            "RATE_LIMIT_JOBS_PER_MINUTE": "100000",
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
        drop_database(PG_ADMIN, database)
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


def request_ids_served(topology, name: str) -> set[str]:
    return set(re.findall(r"\[(topo-[\w-]+)\]", topology.children[name].output()))


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
        for job_id in re.findall(r"job (\S+) test completed", topology.children[name].output()):
            completions[job_id.replace("-", "")] += 1
    assert {job_id.replace("-", ""): 1 for job_id in job_ids} == dict(completions)


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
