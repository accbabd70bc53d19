"""Real `manage.py rqworker` processes for the system tests, on a database they share with the
test: a migrated temporary SQLite file (or a fresh PostgreSQL database when DATABASE_URL names
one), which the test's own ORM is pointed at for the duration of each test.
`JOBS_WORKER_LOST_AFTER` is shortened so a killed worker is noticed in seconds, not minutes."""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ
import pytest
from django.conf import settings
from django.db import connections
from rq import Worker

from apps.core.redis_clients import queue_redis
from apps.jobs.models import Job
from apps.users.models import User

LOST_AFTER = 12
QUEUES = ("high_priority", "default", "low_priority")


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout} s waiting for {what}")
        time.sleep(0.1)


def process_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "JOBS_WORKER_LOST_AFTER": str(LOST_AFTER),
        "RQ_WORKER_TTL": "16",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture(scope="module")
def system_database(tmp_path_factory) -> Iterator[str]:
    """A migrated database for this module's workers; its DATABASE_URL."""
    configured = os.environ.get("DATABASE_URL", "")
    dropped = None
    if configured.startswith(("postgres://", "postgresql://", "pgsql://")):
        import psycopg

        name = f"tanka_jobs_system_{uuid.uuid4().hex[:10]}"
        server = urlsplit(configured)._replace(scheme="postgresql")
        with psycopg.connect(server._replace(path="/postgres").geturl(), autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        url = server._replace(path=f"/{name}").geturl()
        dropped = (server._replace(path="/postgres").geturl(), name)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('jobs-system') / 'db.sqlite3'}"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=settings.BASE_DIR,
        env=process_env(url),
        check=True,
        timeout=180,
    )
    yield url
    if dropped:
        import psycopg

        with psycopg.connect(dropped[0], autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{dropped[1]}" WITH (FORCE)')


@pytest.fixture
def system_db(system_database, django_db_blocker) -> Iterator[str]:
    """Point this process's ORM at the workers' database for one test."""
    original = connections["default"]
    name = environ.Env.db_url_config(system_database)["NAME"]
    # Without the pool: psycopg pools are kept per alias, and "default" has the test DB's.
    options = {k: v for k, v in original.settings_dict["OPTIONS"].items() if k != "pool"}
    shared = original.__class__(
        {**original.settings_dict, "NAME": name, "OPTIONS": options}, alias="default"
    )
    connections["default"] = shared
    try:
        with django_db_blocker.unblock():
            yield system_database
            shared.close()
    finally:
        connections["default"] = original


class WorkerProcess:
    def __init__(
        self,
        database_url: str,
        log_dir: Path,
        queues: tuple[str, ...],
        *flags: str,
        env: dict[str, str] | None = None,
    ):
        self.name = f"w-{uuid.uuid4().hex[:10]}"
        self.log_path = log_dir / f"{self.name}.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "rqworker", *queues, "--name", self.name, *flags],
                cwd=settings.BASE_DIR,
                env={**process_env(database_url), **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log_path.read_text()

    def registered(self) -> bool:
        return self.name in {worker.name for worker in Worker.all(connection=queue_redis())}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def processes_left(self) -> list[int]:
        """Processes still running with this worker's command line (its job process)."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if self.name.encode() in (entry / "cmdline").read_bytes():
                        found.append(int(entry.name))
                except OSError:
                    continue
        return found


@pytest.fixture
def start_worker(tmp_path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(
        *queues: str,
        database_url: str,
        scheduler: bool = False,
        burst: bool = False,
        env: dict[str, str] | None = None,
    ) -> WorkerProcess:
        flags = (["--with-scheduler"] if scheduler else []) + (["--burst"] if burst else [])
        worker = WorkerProcess(database_url, tmp_path, queues or QUEUES, *flags, env=env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def owner(system_db) -> User:
    return User.objects.create_user(f"{uuid.uuid4().hex}@example.com", "pw-0123456789")


def status_of(job: Job) -> str:
    job.refresh_from_db()
    return job.status
