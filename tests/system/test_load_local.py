"""A bounded load test against the `make run` stack (`python -m devstack run`) on SQLite:
concurrent clients reading, writing memories and creating jobs for `LOAD_SECONDS`, then
proof that nothing acknowledged was lost and SQLite never answered "database is locked".

CI runs the small default below; `make load-local` runs a longer, wider one. The 64-client
load test against the production topology (granian behind nginx on PostgreSQL) is in
tests/system/test_topology.py; both use the client in tests/system/load.py.
"""

import os
import time

import pytest

from devstack import DEVSTACK
from devstack.net import free_port
from devstack.processes import Process
from tests.system.helpers import http_full, record_figures, unthrottled_env
from tests.system.load import (
    WRITE_HEAVY_MIX,
    Client,
    first_errors,
    lost_writes,
    run_clients,
    summary,
    wait_for_jobs,
)

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("load-local")]

SECONDS = float(os.environ.get("LOAD_SECONDS", "20"))
CLIENTS = int(os.environ.get("LOAD_CLIENTS", "8"))


def test_local_stack_holds_concurrent_reads_writes_and_jobs_without_losing_any(tmp_path):
    api_port, redis_port = free_port(), free_port()
    base = f"http://127.0.0.1:{api_port}"
    stack = Process(
        [*DEVSTACK, "run", "--port", str(api_port), "--redis-port", str(redis_port),
         "--local-redis", f"redis://127.0.0.1:{free_port()}/0"],
        env=unthrottled_env(VAR_DIR=str(tmp_path)),
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
        clients = [
            Client(base, token, deadline, seed, WRITE_HEAVY_MIX)
            for seed, token in enumerate(tokens)
        ]
        run_clients(clients, SECONDS)
        lost = lost_writes(base, clients)
        wait_for_jobs(base, clients, timeout=120)
    finally:
        assert stack.stop() == 0, stack.output[-5000:]

    assert first_errors(clients) == []
    assert lost == []
    assert "database is locked" not in stack.output
    figures = summary(clients, SECONDS)
    record_figures(
        "load-local-sqlite",
        f"LOAD_CLIENTS={CLIENTS} LOAD_SECONDS={SECONDS:g} pytest -n0 "
        "tests/system/test_load_local.py",
        database="sqlite (the make run stack's own)",
        clients=CLIENTS,
        seconds=SECONDS,
        **figures,
        writes_lost=len(lost),
        jobs_completed=figures["jobs_acknowledged"],
        database_locked=0,
    )
