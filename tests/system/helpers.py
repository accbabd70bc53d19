"""Helpers for tests that run real processes: a process whose output is collected as it
runs, waits on conditions instead of sleeps, and free ports."""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from apps.core.management.commands.runstack import embedded_redis_binary, redis_answers
from apps.core.topology import QUEUES

ROOT = Path(__file__).resolve().parents[2]
MANAGE = [sys.executable, str(ROOT / "manage.py")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def http_full(
    url: str,
    method: str = "GET",
    body: Any = None,
    token: str | None = None,
    timeout: float = 15,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """Status, response headers and body (parsed JSON, or text when it is not JSON)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw, status, got = response.read(), response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        raw, status, got = error.read(), error.code, dict(error.headers)
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return status, got, parsed


def http_json(
    url: str,
    method: str = "GET",
    body: Any = None,
    token: str | None = None,
    timeout: float = 10,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    status, _, parsed = http_full(url, method, body, token, timeout, headers)
    return status, parsed


def answers(url: str) -> Any:
    try:
        return http_json(url, timeout=2)
    except OSError:
        return None


class Process:
    """A child process whose combined output is collected line by line."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path = ROOT) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            args,
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, text: str, timeout: float) -> str:
        def found() -> str | None:
            if self.proc.poll() is not None and not self._reader.is_alive():
                raise AssertionError(f"process exited before printing {text!r}:\n{self.output}")
            return next((line for line in self.lines if text in line), None)

        return wait_for(found, timeout, f"{text!r} in the output")

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            return self.proc.wait()


def clean_env(**overrides: str) -> dict[str, str]:
    """The environment of a fresh machine: no database or Redis configured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(overrides)
    return env


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); read its state.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


class RedisServer:
    """A redis-server of this test's own on a fixed port, so it can be stopped and started
    again under running clients without touching any other Redis."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.data_dir = data_dir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "RedisServer":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [embedded_redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.data_dir), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        wait_for(self.answers, 15, f"redis-server on port {self.port}")
        return self

    def answers(self) -> bool:
        return redis_answers(self.url)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
        self.process = None


def migrate(env: dict[str, str]) -> None:
    subprocess.run([*MANAGE, "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True,
                   timeout=180)  # fmt: skip


def issue_token(env: dict[str, str], email: str) -> str:
    done = subprocess.run(
        [*MANAGE, "issue_token", email, "--create"],
        env=env, cwd=ROOT, check=True, timeout=120, capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip()


def start_api(env: dict[str, str], port: int) -> Process:
    """`runserver` (threaded, no autoreload) on `port`, answering /health/live."""
    api = Process([*MANAGE, "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"],
                  env=env)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(f"{base}/health/live"), 90, f"the API on {base}")
    except AssertionError:
        api.stop()
        raise AssertionError(f"the API did not start:\n{api.output}") from None
    return api


def start_worker(env: dict[str, str], name: str, *flags: str) -> Process:
    return Process([*MANAGE, "rqworker", *QUEUES, "--name", name, *flags], env=env)


@contextlib.contextmanager
def api_and_worker(env: dict[str, str], name: str) -> Iterator[tuple[str, str, Process, Process]]:
    """Migrate `env`'s database and run a worker (with the scheduler) and an API on it: the
    API's base URL, a token of the user `<name>@example.com`, the API and the worker. Both
    stop on leaving, before the caller drops the database."""
    migrate(env)
    token = issue_token(env, f"{name}@example.com")
    processes: list[Process] = []
    try:
        worker = start_worker(env, f"{name}-worker", "--with-scheduler")
        processes.append(worker)
        port = free_port()
        api = start_api(env, port)
        processes.append(api)
        yield f"http://127.0.0.1:{port}", token, api, worker
    finally:
        for process in processes:
            process.stop()


# Every rate limit off (0 = off), for load and fuzz runs: a 429 there would be a test artefact.
NO_RATE_LIMITS = {
    f"RATE_LIMIT{name}_PER_MINUTE": "0"
    for name in ("", "_ANON", "_LOGIN", "_REGISTER", "_JOBS", "_SIMILAR")
}


def unthrottled_env(**overrides: str) -> dict[str, str]:
    """A fresh machine's environment with every rate limit off, for load and fuzz runs."""
    env = clean_env(**NO_RATE_LIMITS)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


@contextlib.contextmanager
def throwaway_database(tmp: Path) -> Iterator[str]:
    """The DATABASE_URL of an empty database for one test's processes: a fresh PostgreSQL
    database on the server DATABASE_URL names (dropped afterwards), else a SQLite file."""
    configured = os.environ.get("DATABASE_URL", "")
    if not configured.startswith(("postgres://", "postgresql://", "pgsql://")):
        yield f"sqlite:///{tmp / 'db.sqlite3'}"
        return
    import psycopg

    name = f"tanka_sys_{uuid.uuid4().hex[:12]}"
    server = urlsplit(configured)._replace(scheme="postgresql")
    admin = server._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin, autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


FIGURES_DIR = ROOT / "bench" / "results" / "reliability"


def record_figures(name: str, command: str, **figures: Any) -> dict[str, Any]:
    """Keep a test's figures where the README quotes them from (and the run's summary
    prints them): bench/results/reliability/NAME.json."""
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    database = os.environ.get("DATABASE_URL", "sqlite").split(":", 1)[0]
    record = {"name": name, "command": command, "database": database,
              "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **figures}  # fmt: skip
    (FIGURES_DIR / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


class PostgresCluster:
    """A throwaway PostgreSQL cluster of this test's own (initdb in a temp dir, a free port),
    so it can be stopped and started again without touching the machine's server."""

    def __init__(self) -> None:
        binaries = postgres_bin()
        assert binaries is not None, "PostgreSQL's server binaries are not installed"
        self.bin = binaries
        self.dir = Path(tempfile.mkdtemp(prefix="tanka-pg-"))
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/tanka"
        # initdb and postgres refuse to run as root: run them as the postgres user then.
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.dir, "postgres", "postgres")

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, timeout=120, capture_output=True)

    def init(self) -> "PostgresCluster":
        self._run(str(self.bin / "initdb"), "-D", str(self.dir / "data"), "-A", "trust",
                  "-U", "postgres", "--no-sync")  # fmt: skip
        self.start()
        import psycopg

        with psycopg.connect(self.url.replace("/tanka", "/postgres"), autocommit=True) as db:
            db.execute("CREATE DATABASE tanka")
        return self

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c full_page_writes=off")  # fmt: skip
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-o", options,
                  "-l", str(self.dir / "server.log"), "-w", "-t", "60", "start")  # fmt: skip

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w",
                  "stop")  # fmt: skip

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def print_figures(terminalreporter: Any, since: float) -> None:
    """Print the figures recorded by this run (the files written since `since`)."""
    if not FIGURES_DIR.is_dir():
        return
    fresh = sorted(p for p in FIGURES_DIR.glob("*.json") if p.stat().st_mtime >= since)
    if not fresh:
        return
    terminalreporter.section("reliability figures (bench/results/reliability/)")
    for path in fresh:
        record = json.loads(path.read_text())
        name, command = record.pop("name"), record.pop("command")
        record.pop("at", None)
        figures = ", ".join(f"{key}={value}" for key, value in record.items())
        terminalreporter.write_line(f"{name}: {figures}")
        terminalreporter.write_line(f"    reproduce: {command}")
