"""`python -m devstack run` (what `make run` starts), run for real on a fresh machine's defaults:
SQLite under VAR_DIR and the embedded redis-server."""

import os
import re
import signal
import sqlite3

import pytest
import redis

from devstack import DEVSTACK, MANAGE
from devstack.net import free_port
from devstack.processes import Process, clean_env, pid_alive
from tests.system.helpers import answers, wait_for

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("local-stack")]


def start_stack(var_dir, api_port: int, redis_port: int, **settings: str) -> Process:
    env = clean_env(VAR_DIR=str(var_dir), PYTHONUNBUFFERED="1", **settings)
    closed = free_port()
    return Process(
        [*DEVSTACK, "run", "--port", str(api_port), "--redis-port", str(redis_port),
         "--local-redis", f"redis://127.0.0.1:{closed}/0"],
        env=env,
    )  # fmt: skip


def child_pids(stack: Process) -> dict[str, int]:
    """The children's pids, as the stack printed them last (a restarted worker prints anew)."""
    return {
        name: int(pid) for name, pid in re.findall(r"^\s+(\S+)\s+pid (\d+)$", stack.output, re.M)
    }


def healthy(base: str):
    result = answers(f"{base}/health")
    return result if result and result[1]["status"] == "healthy" else None


def test_stack_serves_health_keeps_data_and_stops_cleanly(tmp_path):
    api_port, redis_port = free_port(), free_port()
    base = f"http://127.0.0.1:{api_port}"

    stack = start_stack(tmp_path, api_port, redis_port)
    try:
        stack.wait_for_line("Tanka Core API is running", timeout=120)
        assert "started the embedded redis-server" in stack.output
        status, body = wait_for(lambda: healthy(base), 60, "a healthy /health")
        assert status == 200
        assert body["services"] == {
            "database": "connected",
            "redis": "connected",
            "task_queue": "connected",
        }
        redis.Redis(port=redis_port).set("tanka:persist-check", "kept")
        database = sqlite3.connect(tmp_path / "tanka.sqlite3")
        database.execute(
            "INSERT INTO users_user (id, email, password, display_name, avatar_url, first_name,"
            " last_name, is_active, is_staff, is_superuser, date_joined, updated_at)"
            " VALUES ('00000000000000000000000000000001', 'kept@example.com', '!', '', '', '',"
            " '', 1, 0, 0, '2026-01-01', '2026-01-01')"
        )
        database.commit()
        database.close()
        pids = child_pids(stack)
        assert set(pids) == {"redis", "worker-1", "api"}
    finally:
        code = stack.stop()
    assert code == 0, stack.output
    assert "Stopped." in stack.output
    assert not [name for name, pid in pids.items() if pid_alive(pid)]

    again = start_stack(tmp_path, api_port, redis_port)
    try:
        again.wait_for_line("Tanka Core API is running", timeout=120)
        assert redis.Redis(port=redis_port).get("tanka:persist-check") == b"kept"
        database = sqlite3.connect(tmp_path / "tanka.sqlite3")
        emails = [row[0] for row in database.execute("SELECT email FROM users_user")]
        database.close()
        assert emails == ["kept@example.com"]
    finally:
        assert again.stop() == 0, again.output


def test_a_child_that_dies_is_reported_and_stops_the_stack(tmp_path):
    stack = start_stack(tmp_path, free_port(), free_port())
    try:
        stack.wait_for_line("Tanka Core API is running", timeout=120)
        pids = child_pids(stack)
        os.kill(pids["worker-1"], signal.SIGKILL)
        code = stack.proc.wait(timeout=60)
    finally:
        stack.stop()
    assert code == 1
    assert "worker-1 exited with code -9; stopping the stack." in stack.output
    wait_for(lambda: not any(pid_alive(pid) for pid in pids.values()), 30, "every child to stop")


def test_a_worker_that_gives_up_a_stuck_job_is_started_again(tmp_path):
    api_port, redis_port = free_port(), free_port()
    stack = start_stack(tmp_path, api_port, redis_port, JOBS_HARD_LIMIT_GRACE="1")
    try:
        stack.wait_for_line("Tanka Core API is running", timeout=120)
        first = child_pids(stack)["worker-1"]
        enqueue = Process(
            [*MANAGE, "shell", "-c",
             "from apps.jobs.engine import enqueue\n"
             "from apps.jobs.tests import tasks\n"
             "enqueue(tasks.out_of_reach, 120)\n"],
            env=clean_env(VAR_DIR=str(tmp_path), REDIS_URL=f"redis://127.0.0.1:{redis_port}/0"),
        )  # fmt: skip
        assert enqueue.proc.wait(timeout=120) == 0, enqueue.output

        stack.wait_for_line("starting a fresh worker", timeout=60)
        wait_for(lambda: child_pids(stack)["worker-1"] != first, 10, "the new worker's pid")
        assert pid_alive(child_pids(stack)["worker-1"])
        assert stack.proc.poll() is None
        database = sqlite3.connect(tmp_path / "tanka.sqlite3")
        # Only this job: the stack's scheduler may also have fired the hourly purge.
        ((status, error),) = database.execute(
            "SELECT status, error FROM jobs_job WHERE name = 'tests.out_of_reach'"
        ).fetchall()
        database.close()
        assert status == "failed"
        assert error.startswith("the job overran its time limit")
    finally:
        assert stack.stop() == 0, stack.output
