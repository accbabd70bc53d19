"""A bounded load test against the `make run` stack (`manage.py runstack`) on SQLite:
concurrent clients reading, writing memories and creating jobs for `LOAD_SECONDS`, then
proof that nothing acknowledged was lost and SQLite never answered "database is locked".

CI runs the small default below; `make load-local` runs a longer, wider one. (The 64-client
load test belongs to the production topology, gunicorn behind nginx on PostgreSQL.)
"""

import os
import random
import threading
import time
from collections import Counter
from typing import Any

import pytest

from tests.system.helpers import (
    MANAGE,
    Process,
    clean_env,
    free_port,
    http_full,
    record_figures,
    wait_for,
)

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("load-local")]

SECONDS = float(os.environ.get("LOAD_SECONDS", "20"))
CLIENTS = int(os.environ.get("LOAD_CLIENTS", "8"))


class Client(threading.Thread):
    """One user's client: a mix of list and detail reads, memory writes and job creation."""

    def __init__(self, base: str, token: str, deadline: float, seed: int) -> None:
        super().__init__(daemon=True)
        self.base, self.token, self.deadline = base, token, deadline
        self.random = random.Random(seed)
        self.statuses: Counter[str] = Counter()
        self.errors: list[str] = []
        self.memories: list[str] = []
        self.jobs: list[str] = []

    def call(self, kind: str, method: str, path: str, body: Any = None) -> Any:
        try:
            status, _, answer = http_full(f"{self.base}{path}", method, body, self.token, 30)
        except OSError as exc:
            status, answer = 0, str(exc)
        self.statuses[f"{kind} {status}"] += 1
        expected = {"create": 201, "job": 202}.get(kind, 200)
        if status != expected:
            self.errors.append(f"{method} {path}: {status} {answer}")
            return None
        return answer["data"]

    def run(self) -> None:
        while time.monotonic() < self.deadline:
            roll = self.random.random()
            if roll < 0.4 or not self.memories:
                created = self.call(
                    "create", "POST", "/api/v1/memories",
                    {"content": f"load {self.random.random()}", "tags": ["load"]},
                )  # fmt: skip
                if created:
                    self.memories.append(created["id"])
            elif roll < 0.7:
                self.call("list", "GET", "/api/v1/memories?per_page=50")
            elif roll < 0.9:
                self.call("detail", "GET", f"/api/v1/memories/{self.random.choice(self.memories)}")
            else:
                accepted = self.call("job", "POST", "/api/v1/jobs/test", {"payload": {"n": 1}})
                if accepted:
                    self.jobs.append(accepted["job_id"])


def test_local_stack_holds_concurrent_reads_writes_and_jobs_without_losing_any(tmp_path):
    api_port, redis_port = free_port(), free_port()
    base = f"http://127.0.0.1:{api_port}"
    limits = ("", "_ANON", "_LOGIN", "_REGISTER", "_JOBS")
    env = clean_env(
        VAR_DIR=str(tmp_path),
        PYTHONUNBUFFERED="1",
        **{f"RATE_LIMIT{name}_PER_MINUTE": "0" for name in limits},
    )
    stack = Process(
        [*MANAGE, "runstack", "--port", str(api_port), "--redis-port", str(redis_port),
         "--local-redis", f"redis://127.0.0.1:{free_port()}/0"],
        env=env,
    )  # fmt: skip
    try:
        stack.wait_for_line("Tanka Core API is running", timeout=120)
        tokens = []
        for index in range(CLIENTS):
            status, _, body = http_full(
                f"{base}/api/v1/auth/register", "POST",
                {"email": f"load{index}@example.com", "password": "Load-test-pass-42"},
            )  # fmt: skip
            assert status == 201, body
            tokens.append(body["data"]["access_token"])

        deadline = time.monotonic() + SECONDS
        clients = [Client(base, token, deadline, seed) for seed, token in enumerate(tokens)]
        for client in clients:
            client.start()
        for client in clients:
            client.join(timeout=SECONDS + 120)

        requests = sum(sum(c.statuses.values()) for c in clients)
        errors = [error for c in clients for error in c.errors]
        lost = []
        for client in clients:
            for memory_id in client.memories:
                status, _, _ = http_full(f"{base}/api/v1/memories/{memory_id}", token=client.token)
                if status != 200:
                    lost.append(memory_id)
            status, _, listed = http_full(f"{base}/api/v1/memories?per_page=1", token=client.token)
            if listed["meta"]["total"] != len(client.memories):
                lost.append(f"{client.token[-8:]}: {listed['meta']['total']} listed")

        def unfinished() -> list[str]:
            return [
                job_id
                for client in clients
                for job_id in client.jobs
                if http_full(f"{base}/api/v1/jobs/{job_id}", token=client.token)[2]["data"][
                    "status"
                ]
                != "completed"
            ]

        wait_for(lambda: not unfinished(), 120, "every acknowledged job to complete")
    finally:
        assert stack.stop() == 0, stack.output[-5000:]

    assert errors == []
    assert lost == []
    assert "database is locked" not in stack.output
    writes = sum(len(c.memories) for c in clients)
    record_figures(
        "load-local-sqlite",
        f"LOAD_CLIENTS={CLIENTS} LOAD_SECONDS={SECONDS:g} pytest -n0 "
        "tests/system/test_load_local.py",
        database="sqlite (the make run stack's own)",
        clients=CLIENTS,
        seconds=SECONDS,
        requests=requests,
        requests_per_second=round(requests / SECONDS, 1),
        errors=len(errors),
        writes_acknowledged=writes,
        writes_lost=len(lost),
        jobs_completed=sum(len(c.jobs) for c in clients),
        database_locked=0,
    )
