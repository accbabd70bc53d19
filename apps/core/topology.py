"""The production topology on one machine, without containers.

nginx on one port in front of several gunicorn api processes (each on its own port) and the
event stream's ASGI server, several RQ workers, and the machine's PostgreSQL and Redis: the
shape of docker/compose.yml, run from the same docker/nginx.conf and docker/gunicorn.conf.py.
`make stack-prod` runs it for a person, the topology system test proves it, and the
benchmark measures it.

This module starts processes only; it imports nothing from Django, so it can run before any
settings exist.
"""

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
DOCKER_DIR = ROOT / "docker"
MANAGE = [sys.executable, str(ROOT / "manage.py")]
QUEUES = ["high_priority", "default", "low_priority"]

# The lines of docker/nginx.conf that name the containers' addresses.
NGINX_UPSTREAM_LINE = "server api:8000 max_fails=1 fail_timeout=5s;"
NGINX_EVENTS_UPSTREAM_LINE = "server events:8000 max_fails=1 fail_timeout=5s;"
NGINX_LISTEN_LINE = "listen 80;"
NGINX_ACCESS_LOG_LINE = "access_log /var/log/nginx/access.log tanka;"


def asgi_server_command(host: str, port: int) -> list[str]:
    """The ASGI server of `tanka.asgi:application`: the live event stream in the topology, the
    whole local stack under `make run`. The one place that names it (docker/compose.yml's
    `events` service repeats these flags), so another server is a change here.

    One process: the streams of a process share its Redis connections, and an idle stream
    costs a socket, not a thread. Backpressure (requests served at once) is far above the
    1,000 open streams the benchmark holds; the kill timeout bounds a stop that open streams
    would otherwise hold up."""
    return [
        sys.executable, "-m", "granian", "--interface", "asgi", "--no-ws",
        "--host", host, "--port", str(port), "--workers", "1",
        "--backlog", "2048", "--backpressure", "20000", "--workers-kill-timeout", "5",
        "tanka.asgi:application",
    ]  # fmt: skip


class TopologyError(RuntimeError):
    """A part of the topology did not start; the message names it and points at its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def http_status(url: str, timeout: float = 2) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(path).exists()),
        None,
    )


def nginx_site_config(
    *,
    listen: str,
    upstreams: list[str],
    events_upstream: str,
    access_log: Path,
    source: Path | None = None,
) -> str:
    """docker/nginx.conf with the upstream servers (the api processes, the event stream's
    server), the listen address and the access log replaced: the one load-balancer
    configuration, used by Docker and by this topology."""
    text = (source or DOCKER_DIR / "nginx.conf").read_text()
    lines = (
        NGINX_UPSTREAM_LINE,
        NGINX_EVENTS_UPSTREAM_LINE,
        NGINX_LISTEN_LINE,
        NGINX_ACCESS_LOG_LINE,
    )
    for line in lines:
        if text.count(line) != 1:
            raise TopologyError(f"docker/nginx.conf must contain the line {line!r} exactly once")
    servers = "\n    ".join(
        NGINX_UPSTREAM_LINE.replace("api:8000", address) for address in upstreams
    )
    return (
        text.replace(NGINX_UPSTREAM_LINE, servers)
        .replace(
            NGINX_EVENTS_UPSTREAM_LINE,
            NGINX_EVENTS_UPSTREAM_LINE.replace("events:8000", events_upstream),
        )
        .replace(NGINX_LISTEN_LINE, f"listen {listen};")
        .replace(NGINX_ACCESS_LOG_LINE, f"access_log {access_log} tanka;")
    )


def nginx_main_config(prefix: Path, site: Path, worker_processes: str = "auto") -> str:
    """A whole nginx.conf that keeps its pid, logs and temp files under `prefix`."""
    temp = prefix / "temp"
    return f"""daemon off;
worker_processes {worker_processes};
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;
events {{ worker_connections 4096; }}
http {{
    client_body_temp_path {temp / "body"};
    proxy_temp_path {temp / "proxy"};
    fastcgi_temp_path {temp / "fastcgi"};
    uwsgi_temp_path {temp / "uwsgi"};
    scgi_temp_path {temp / "scgi"};
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    include {site};
}}
"""


@dataclass
class Child:
    """One process of the topology, its output in its own log file."""

    name: str
    args: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def start(self, env: dict[str, str]) -> None:
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.args,
            env=env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the whole process group (a gunicorn master and its workers)."""
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def stop(self, timeout: float = 20) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            # The leader only: gunicorn's master stops its workers gracefully, and an RQ
            # worker lets its running job finish; signalling the whole group would kill both.
            self.popen.terminate()
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        # The group may outlive its leader (gunicorn's workers, a worker's scheduler): end it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class Topology:
    """nginx + `api_processes` gunicorns + the event stream's ASGI server + `workers` RQ
    workers, sharing one PostgreSQL database and one Redis.

    `env` adds or overrides settings of every process (rate limits, log level...).
    """

    run_dir: Path
    database_url: str
    redis_url: str = "redis://127.0.0.1:6379/0"
    queue_db: int = 0
    cache_db: int = 1
    api_processes: int = 2
    workers: int = 2
    nginx_port: int = 8080
    api_ports: list[int] = field(default_factory=list)
    events_port: int = 0
    env: dict[str, str] = field(default_factory=dict)
    children: dict[str, Child] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)
        (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        if not self.api_ports:
            self.api_ports = [free_port() for _ in range(self.api_processes)]
        self.api_processes = len(self.api_ports)
        self.events_port = self.events_port or free_port()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    def api_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.api_ports[index]}"

    def _secrets(self) -> dict[str, str]:
        """Secrets kept in the run directory, so tokens survive a restart of the stack."""
        path = self.run_dir / "secrets.env"
        if not path.exists():
            path.write_text(
                f"SECRET_KEY={secrets.token_urlsafe(64)}\n"
                f"JWT_SECRET_KEY={secrets.token_urlsafe(48)}\n"
            )
            path.chmod(0o600)
        pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
        return {key: value for key, value in pairs}

    def environment(self) -> dict[str, str]:
        """Production settings for every process; the caller's DATABASE_/REDIS_ are replaced."""
        base = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DATABASE_", "REDIS_", "DJANGO_SETTINGS_MODULE"))
        }
        base.update(self._secrets())
        base.update(
            {
                "ENVIRONMENT": "production",
                "DEBUG": "false",
                "ALLOWED_HOSTS": "localhost,127.0.0.1",
                # nginx is the one proxy in front: the client's address is the last hop it adds.
                "NUM_PROXIES": "1",
                # Plain http on loopback: nothing terminates TLS here.
                "SECURE_SSL_REDIRECT": "false",
                "VAR_DIR": str(self.run_dir / "var"),
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "REDIS_QUEUE_DB": str(self.queue_db),
                "REDIS_CACHE_DB": str(self.cache_db),
                "PYTHONUNBUFFERED": "1",
            }
        )
        base.update(self.env)
        return base

    def prepare(self) -> None:
        """Migrate the database and collect the static files whitenoise serves."""
        env = self.environment()
        for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
            result = subprocess.run(
                [*MANAGE, *command, "--verbosity", "0"],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                raise TopologyError(
                    f"manage.py {command[0]} failed:\n{result.stdout}{result.stderr}"
                )

    def start(self, timeout: float = 60) -> None:
        nginx = nginx_binary()
        if nginx is None:
            raise TopologyError("nginx is not installed (apt-get install nginx)")
        if not port_is_free(self.nginx_port):
            raise TopologyError(f"port {self.nginx_port} is taken; choose another nginx port")
        env = self.environment()
        logs = self.run_dir / "logs"
        for index, port in enumerate(self.api_ports):
            name = f"api-{index + 1}"
            self.children[name] = Child(
                name,
                [sys.executable, "-m", "gunicorn", "--config",
                 str(DOCKER_DIR / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}"],
                logs / f"{name}.log",
            )  # fmt: skip
        for index in range(self.workers):
            name = f"worker-{index + 1}"
            self.children[name] = Child(
                name,
                [*MANAGE, "rqworker", *QUEUES, "--with-scheduler", "--name",
                 f"{name}-{secrets.token_hex(4)}"],
                logs / f"{name}.log",
            )  # fmt: skip
        self.children["events"] = Child(
            "events", asgi_server_command("127.0.0.1", self.events_port), logs / "events.log"
        )
        self.children["nginx"] = Child(
            "nginx", [nginx, "-p", str(self.run_dir), "-c", str(self._write_nginx_config())],
            logs / "nginx.log",
        )  # fmt: skip
        for child in self.children.values():
            child.start(env)
        for index, name in enumerate(n for n in self.children if n.startswith("api-")):
            self._wait_for(name, f"{self.api_url(index)}/health/live", timeout)
        self._wait_for("events", f"http://127.0.0.1:{self.events_port}/health/live", timeout)
        self._wait_for("nginx", f"{self.base_url}/health/live", timeout)
        self._wait_for_workers(timeout)

    @property
    def nginx_access_log(self) -> Path:
        return self.run_dir / "nginx" / "access.log"

    def _write_nginx_config(self) -> Path:
        prefix = self.run_dir / "nginx"
        for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (prefix / "temp" / temp).mkdir(parents=True, exist_ok=True)
        site = prefix / "tanka.conf"
        site.write_text(
            nginx_site_config(
                listen=f"127.0.0.1:{self.nginx_port}",
                upstreams=[f"127.0.0.1:{port}" for port in self.api_ports],
                events_upstream=f"127.0.0.1:{self.events_port}",
                access_log=self.nginx_access_log,
            )
        )
        main = prefix / "nginx.conf"
        main.write_text(nginx_main_config(prefix, site))
        return main

    def _wait_for(self, name: str, url: str, timeout: float) -> None:
        child = self.children[name]
        if not wait_until(lambda: not child.alive() or http_status(url, 1) == 200, timeout):
            raise TopologyError(f"{name} did not answer {url} within {timeout} s")
        if not child.alive():
            raise TopologyError(f"{name} exited at start:\n{child.output()[-3000:]}")

    def _wait_for_workers(self, timeout: float) -> None:
        def started() -> bool:
            for name, child in self.children.items():
                if name.startswith("worker-") and not child.alive():
                    raise TopologyError(f"{name} exited at start:\n{child.output()[-3000:]}")
            return all(
                "Listening on" in child.output() or "*** Listening" in child.output()
                for name, child in self.children.items()
                if name.startswith("worker-")
            )

        if not wait_until(started, timeout):
            raise TopologyError(f"the workers did not start within {timeout} s")

    def dead_children(self) -> list[str]:
        return [name for name, child in self.children.items() if not child.alive()]

    def stop(self) -> None:
        """nginx first (no new requests), then the api processes and workers."""
        order = ["nginx"] + [name for name in self.children if name != "nginx"]
        for name in order:
            if name in self.children:
                self.children[name].stop()


def create_database(admin_url: str, name: str, *, recreate: bool = False) -> None:
    """Create database `name` on the server of `admin_url` (dropping it first if asked)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if exists and recreate:
            connection.execute(
                sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name))
            )
            exists = None
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def flush_redis(url: str, *dbs: int) -> None:
    import redis
    from redis.connection import parse_url

    for db in dbs:
        client = redis.Redis(**{**parse_url(url), "db": db}, socket_connect_timeout=2)
        try:
            client.flushdb()
        finally:
            client.close()


def main(argv: list[str] | None = None) -> int:
    """`make stack-prod`: run the topology in the foreground until Ctrl-C or a child dies."""
    import argparse
    from urllib.parse import urlsplit, urlunsplit

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=8080, help="nginx port")
    parser.add_argument("--api", type=int, default=2, help="gunicorn api processes")
    parser.add_argument("--workers", type=int, default=2, help="RQ workers")
    parser.add_argument("--run-dir", default=str(ROOT / "var" / "stack-prod"))
    args = parser.parse_args(argv)

    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tanka")
    parts = urlsplit(database_url)
    if parts.scheme not in ("postgres", "postgresql"):
        print("stack-prod needs PostgreSQL: set DATABASE_URL=postgres://...", file=sys.stderr)
        return 2
    create_database(urlunsplit(parts._replace(path="/postgres")), parts.path.lstrip("/"))
    stack = Topology(
        run_dir=Path(args.run_dir),
        database_url=database_url,
        redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        queue_db=int(os.environ.get("REDIS_QUEUE_DB", "0")),
        cache_db=int(os.environ.get("REDIS_CACHE_DB", "1")),
        api_ports=[free_port() for _ in range(args.api)],
        workers=args.workers,
        nginx_port=args.port,
    )
    stopping = False

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    code = 0
    try:
        stack.prepare()
        stack.start()
        print(f"Tanka production topology on {stack.base_url} (nginx)")
        for name, child in stack.children.items():
            port = f" :{stack.api_ports[int(name[4:]) - 1]}" if name.startswith("api-") else ""
            port = f" :{stack.events_port}" if name == "events" else port
            print(f"  {name:<9} pid {child.pid}{port}  log {child.log_path}")
        print("Press Ctrl-C to stop.", flush=True)
        while not stopping:
            dead = stack.dead_children()
            if dead:
                print(f"{', '.join(dead)} exited; stopping the stack.", file=sys.stderr)
                code = 1
                break
            time.sleep(0.5)
    except TopologyError as exc:
        print(exc, file=sys.stderr)
        code = 1
    finally:
        stack.stop()
        print("Stopped.")
    return code


if __name__ == "__main__":
    sys.exit(main())
