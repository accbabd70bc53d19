"""The production topology on one machine, without containers: nginx on one port in front of
several api processes (each on its own port) and the event stream's ASGI server, several RQ
workers, and the machine's PostgreSQL and Redis. The shape of docker/compose.yml, run from
the same docker/nginx.conf and docker/serve.py; `make stack-prod` runs it for a person, the
topology system test proves it, and the benchmark measures it."""

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from devstack import DOCKER_DIR, MANAGE, ROOT
from devstack.net import free_port, http_status, port_is_free, wait_until
from devstack.nginx import nginx_binary, write_nginx_config
from devstack.processes import Process
from tanka.names import QUEUES


class TopologyError(RuntimeError):
    """A part of the topology did not start; the message names it and points at its log."""


def api_command(port: int) -> list[str]:
    """One api process serving the app on `port`, as the image runs it."""
    return [
        sys.executable,
        str(DOCKER_DIR / "serve.py"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def events_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """The ASGI server of `tanka.asgi:application`: the live event stream in the topology, the
    whole API under `make run` (docs/events.md). docker/compose.yml's `events` service repeats
    these flags.

    One process: its streams share its Redis connections, and an idle stream costs a socket,
    not a thread. Backpressure (requests served at once) is far above the 1,000 open streams
    the benchmark holds; the kill timeout bounds a stop that open streams would hold up. Every
    flag is given here, because granian also reads `GRANIAN_*` from the environment the api
    processes share, and an api's `GRANIAN_BLOCKING_THREADS` above 1 stops an ASGI server."""
    return [sys.executable, "-m", "granian", "--interface", "asgi", "--no-ws",
            "--host", host, "--port", str(port), "--workers", "1", "--blocking-threads", "1",
            "--backlog", "2048",
            "--backpressure", "20000", "--workers-kill-timeout", "5",
            "tanka.asgi:application"]  # fmt: skip


def worker_command(*flags: str, name: str | None = None) -> list[str]:
    """One RQ worker on every queue, in priority order, as the image runs it."""
    return [*MANAGE, "rqworker", *QUEUES, *(["--name", name] if name else []), *flags]


@dataclass
class Topology:
    """nginx + `api_processes` api processes + the event stream's ASGI server + `workers` RQ
    workers, sharing one PostgreSQL database and one Redis. `env` adds or overrides settings
    of every process."""

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
    children: dict[str, Process] = field(default_factory=dict)

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

    @property
    def nginx_access_log(self) -> Path:
        return self.run_dir / "nginx" / "access.log"

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

    def server_processes_per_api(self) -> str:
        """GRANIAN_WORKERS of each api process: one server process per core in all (two api
        processes on 2 cores run one each: bench/RESULTS.md, "Process counts"), unless the
        environment sets it."""
        default = max(1, (os.cpu_count() or 1) // self.api_processes)
        return self.environment().get("GRANIAN_WORKERS", str(default))

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
        env.setdefault("GRANIAN_WORKERS", self.server_processes_per_api())
        logs = self.run_dir / "logs"
        commands = {
            f"api-{index + 1}": api_command(port) for index, port in enumerate(self.api_ports)
        }
        for index in range(self.workers):
            name = f"worker-{index + 1}"
            commands[name] = worker_command(
                "--with-scheduler", name=f"{name}-{secrets.token_hex(4)}"
            )
        commands["events"] = events_command(self.events_port)
        config = write_nginx_config(
            self.run_dir / "nginx",
            listen=f"127.0.0.1:{self.nginx_port}",
            upstreams=[f"127.0.0.1:{port}" for port in self.api_ports],
            events_upstream=f"127.0.0.1:{self.events_port}",
            # Whatever runs on this machine in front of nginx (a TLS proxy, a test) is the
            # load balancer; 127.0.0.2 and the rest of loopback are not.
            trusted_hops=["127.0.0.1"],
        )
        commands["nginx"] = [nginx, "-p", str(self.run_dir), "-c", str(config)]
        for name, command in commands.items():
            self.children[name] = Process(command, env, log_path=logs / f"{name}.log")
        for index in range(self.api_processes):
            self._wait_for(f"api-{index + 1}", f"{self.api_url(index)}/health/live", timeout)
        self._wait_for("events", f"http://127.0.0.1:{self.events_port}/health/live", timeout)
        self._wait_for("nginx", f"{self.base_url}/health/live", timeout)
        self._wait_for_workers(timeout)

    def _wait_for(self, name: str, url: str, timeout: float) -> None:
        child = self.children[name]
        if not wait_until(lambda: not child.alive() or http_status(url, 1) == 200, timeout):
            raise TopologyError(f"{name} did not answer {url} within {timeout} s")
        if not child.alive():
            raise TopologyError(f"{name} exited at start:\n{child.output[-3000:]}")

    def _wait_for_workers(self, timeout: float) -> None:
        workers = {name: c for name, c in self.children.items() if name.startswith("worker-")}

        def started() -> bool:
            for name, child in workers.items():
                if not child.alive():
                    raise TopologyError(f"{name} exited at start:\n{child.output[-3000:]}")
            return all("Listening on" in child.output for child in workers.values())

        if not wait_until(started, timeout):
            raise TopologyError(f"the workers did not start within {timeout} s")

    def describe(self) -> dict[str, object]:
        """The shape of this topology, for reports."""
        return {
            "api_processes": self.api_processes,
            "granian_workers_per_api_process": self.server_processes_per_api(),
            "api_server": " ".join(api_command(0)[1:]).replace(str(ROOT) + "/", ""),
            "events_server": " ".join(events_command(0)[1:]),
            "rq_workers": self.workers,
            "nginx_worker_processes": "auto",
        }

    def dead_children(self) -> list[str]:
        return [name for name, child in self.children.items() if not child.alive()]

    def stop(self) -> None:
        """nginx first (no new requests), then the api processes and workers."""
        order = ["nginx"] + [name for name in self.children if name != "nginx"]
        for name in order:
            if name in self.children:
                self.children[name].stop()
