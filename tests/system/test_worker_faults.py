"""Workers killed and restarted while jobs run (docs/reliability.md, "Faults"): every job ends
`completed`, its side effect happened exactly once, and nothing stays `running` or `pending`.

Two real `rqworker` processes work through `FAULT_JOBS` jobs (CI's default below; `make
faults` runs 1000). Mid-run one worker is SIGKILLed in the middle of a job and started again,
and the other is stopped (SIGTERM, a warm shutdown) and started again. Each job records its
side effect as a row (`tests/system/tasks.py`), counted per job at the end.
"""

import os
import signal
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import Any

import pytest

from devstack import MANAGE, ROOT
from devstack.postgres import throwaway_database
from devstack.processes import Process
from devstack.redis import RedisServer
from tests.system.helpers import migrate, record_figures, start_worker, unthrottled_env, wait_for

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("worker-faults")]

JOBS = int(os.environ.get("FAULT_JOBS", "200"))
LONG_SECONDS = 4.0
SHORT_SECONDS = 0.01
# The jobs this test enqueues. The scheduler also fires the service's own schedules (the
# hourly purge, apps/jobs/tasks.py), whose rows are not this test's to count.
OURS = "name = 'reliability.records_effect'"


def query(database_url: str) -> Callable[[str], list[tuple[Any, ...]]]:
    """Run SQL on the workers' database from this process."""

    def run(sql: str) -> list[tuple[Any, ...]]:
        if database_url.startswith("sqlite:///"):
            with closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as db:
                rows = db.execute(sql).fetchall()
                db.commit()
                return rows
        import psycopg

        with psycopg.connect(database_url, autocommit=True) as db:
            cursor = db.execute(sql)
            return cursor.fetchall() if cursor.description else []

    return run


@pytest.fixture
def workers_env(tmp_path) -> Iterator[tuple[dict[str, str], Callable[..., Any]]]:
    redis = RedisServer(tmp_path / "redis").start()
    try:
        with throwaway_database(tmp_path) as database_url:
            env = unthrottled_env(
                DATABASE_URL=database_url,
                REDIS_URL=redis.url,
                VAR_DIR=str(tmp_path / "var"),
                RQ_WORKER_TTL="16",
                JOBS_WORKER_LOST_AFTER="12",
            )
            migrate(env)
            sql = query(database_url.replace("postgresql://", "postgres://", 1)
                        if database_url.startswith("sqlite") else database_url)  # fmt: skip
            sql("CREATE TABLE reliability_effect (job_id varchar(64) NOT NULL)")
            yield env, sql
    finally:
        redis.stop()


def enqueue(env: dict[str, str], seconds: float, count: int) -> None:
    code = (
        "from apps.jobs.engine import enqueue\n"
        "from tests.system import tasks\n"
        f"for _ in range({count}):\n"
        f"    enqueue(tasks.records_effect, {seconds})\n"
    )
    process = Process([*MANAGE, "shell", "-c", code], env=env, cwd=ROOT)
    assert process.proc.wait(timeout=300) == 0, process.output


def counts(sql: Callable[..., Any]) -> dict[str, int]:
    return dict(sql(f"SELECT status, COUNT(*) FROM jobs_job WHERE {OURS} GROUP BY status"))


def test_workers_killed_and_restarted_mid_run_complete_every_job_exactly_once(workers_env):
    env, sql = workers_env
    total = JOBS + 2
    enqueue(env, LONG_SECONDS, 2)
    enqueue(env, SHORT_SECONDS, JOBS)
    started: list[Process] = []

    def worker(*flags: str) -> tuple[str, Process]:
        name = f"w-{uuid.uuid4().hex[:8]}"
        process = start_worker(env, name, *flags)
        started.append(process)
        return name, process

    try:
        first_name, first = worker("--with-scheduler")
        second_name, second = worker()
        # The two long jobs went first, one to each worker: kill the second in the middle
        # of its long job, and start a new worker in its place.
        wait_for(
            lambda: sql(
                f"SELECT 1 FROM jobs_job WHERE {OURS} AND status = 'running' "
                f"AND worker_name = '{second_name}' "
                f"AND CAST(args AS text) LIKE '%{LONG_SECONDS}%'"
            ),
            60,
            "the second worker to run a long job",
        )
        os.killpg(second.proc.pid, signal.SIGKILL)
        second.proc.wait(timeout=30)
        worker()
        # Once a quarter of the work is done, restart the first worker, warmly.
        wait_for(lambda: counts(sql).get("completed", 0) >= total // 4, 120, "a quarter done")
        first.proc.send_signal(signal.SIGTERM)
        try:
            wait_for(lambda: first.proc.poll() is not None, 60, "a warm stop")
        except AssertionError:
            raise AssertionError(f"no warm stop in 60 s:\n{first.output[-6000:]}") from None
        assert first.proc.returncode == 0, first.output[-3000:]
        worker("--with-scheduler")

        try:
            wait_for(
                lambda: counts(sql).get("completed", 0) == total,
                120 + JOBS // 5,
                f"all {total} jobs to complete",
            )
        except AssertionError:
            stuck = sql(
                f"SELECT id, status, attempts FROM jobs_job WHERE {OURS} AND status != 'completed'"
            )
            ids = [str(row[0]) for row in stuck]
            lines = [
                line
                for process in started
                for line in process.lines
                if any(i in line.replace("-", "") for i in ids) or "reconcil" in line
            ]
            raise AssertionError(f"not completed: {stuck}\n" + "\n".join(lines[-80:])) from None
    finally:
        for process in started:
            process.stop()

    assert counts(sql) == {"completed": total}
    effects = dict(sql("SELECT job_id, COUNT(*) FROM reliability_effect GROUP BY job_id"))
    job_ids = {str(row[0]).replace("-", "") for row in sql(f"SELECT id FROM jobs_job WHERE {OURS}")}
    assert {key.replace("-", "") for key in effects} == job_ids
    assert [key for key, n in effects.items() if n != 1] == []
    killed = sql(
        f"SELECT attempts FROM jobs_job WHERE {OURS} AND attempts > 1 "
        f"AND CAST(args AS text) LIKE '%{LONG_SECONDS}%'"
    )
    assert killed, "the job killed mid-run must have been retried"
    retried = sql(f"SELECT COUNT(*) FROM jobs_job WHERE {OURS} AND attempts > 1")[0][0]
    record_figures(
        "fault-workers-killed-and-restarted",
        f"FAULT_JOBS={JOBS} pytest -n0 tests/system/test_worker_faults.py",
        jobs=total,
        workers=2,
        sigkilled_mid_job=1,
        warm_restarts=1,
        completed=total,
        side_effects=sum(effects.values()),
        duplicate_side_effects=0,
        retried_jobs=retried,
        left_running_or_pending=0,
    )
