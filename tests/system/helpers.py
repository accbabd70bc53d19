"""Helpers for tests that run real processes, on top of devstack/ (which starts them): an
HTTP client that keeps status, headers and body, the environment of a fresh machine, the API
and workers of one test, and the figures a test records."""

import contextlib
import http.client
import json
import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from email.message import Message
from typing import Any

from devstack import MANAGE, ROOT
from devstack.net import free_port, wait_until
from devstack.processes import Process, clean_env
from devstack.topology import worker_command
from tanka.names import RATE_LIMIT_SETTINGS


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """`predicate`'s first true result; a test failure naming `what` after `timeout` s."""
    result = wait_until(predicate, timeout, interval)
    if not result:
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")
    return result


def http_full(
    url: str,
    method: str = "GET",
    body: Any = None,
    token: str | None = None,
    timeout: float = 15,
    headers: dict[str, str] | None = None,
) -> tuple[int, Message, Any]:
    """Status, response headers (looked up case-insensitively, as HTTP names them) and body
    (parsed JSON, or text when it is not JSON)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw, status, got = response.read(), response.status, response.headers
    except urllib.error.HTTPError as error:
        raw, status, got = error.read(), error.code, error.headers
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return status, got, parsed


def http_from(
    source: str, url: str, headers: dict[str, str] | None = None, timeout: float = 15
) -> tuple[int, Message, bytes]:
    """GET `url` from the local address `source` (any 127.x.y.z is this machine): status,
    headers (looked up case-insensitively) and raw body, for a proxy that treats callers by
    their address."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname, parts.port, timeout=timeout, source_address=(source, 0)
    )
    try:
        connection.request("GET", parts.path or "/", headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


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
    api = Process([*MANAGE, "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"], env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(f"{base}/health/live"), 90, f"the API on {base}")
    except AssertionError:
        api.stop()
        raise AssertionError(f"the API did not start:\n{api.output}") from None
    return api


def start_worker(env: dict[str, str], name: str, *flags: str) -> Process:
    return Process(worker_command(*flags, name=name), env)


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


class BlackHole:
    """A TCP listener that accepts every connection and never answers: a Redis that hangs
    (unlike a stopped one, which refuses at once). `accepted` counts the connections made,
    which is how many times a client began to wait on it."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)
        self.port = self._server.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(connection)
            self.accepted += 1

    def close(self) -> None:
        self._closed.set()
        self._thread.join(5)
        self._server.close()
        for connection in self._held:
            connection.close()


# Every rate limit and the per-user job cap off (0 = off), for load and fuzz runs: a 429
# there would be a test artefact.
NO_RATE_LIMITS = dict.fromkeys(RATE_LIMIT_SETTINGS, "0") | {"JOBS_MAX_ACTIVE_PER_USER": "0"}


def unthrottled_env(**overrides: str) -> dict[str, str]:
    """A fresh machine's environment with every rate limit off, for load and fuzz runs."""
    env = clean_env(**NO_RATE_LIMITS)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


FIGURES_DIR = ROOT / "bench" / "results" / "reliability"


def record_figures(name: str, command: str, **figures: Any) -> dict[str, Any]:
    """Keep a test's figures where docs/reliability.md quotes them from (and the run's summary
    prints them): bench/results/reliability/NAME.json."""
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    database = os.environ.get("DATABASE_URL", "sqlite").split(":", 1)[0]
    record = {"name": name, "command": command, "database": database,
              "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **figures}  # fmt: skip
    (FIGURES_DIR / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


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
