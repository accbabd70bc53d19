"""What `make run` starts and supervises on a laptop: Redis (the one in REDIS_URL, else one
already on 127.0.0.1:6379, else the embedded redis-server with its data under VAR_DIR/redis),
RQ workers and the API (the ASGI application on granian, live event stream included).
Ctrl-C or SIGTERM stops every child; a child that dies stops the stack with a message saying
which one and how, except a worker that gave up a job stuck past its time limit (it exits for
a fresh one), which is started again."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import TextIO

from devstack import MANAGE, ROOT
from devstack.net import http_status, wait_until
from devstack.processes import Process
from devstack.redis import RedisServer, redis_answers
from devstack.topology import events_command, worker_command
from tanka.names import EXIT_HARD_LIMIT


class StackError(RuntimeError):
    """The stack could not start; the message says why."""


class LocalStack:
    def __init__(
        self,
        *,
        addr: str = "127.0.0.1",
        port: int = 8000,
        redis_port: int = 6380,
        local_redis: str = "redis://127.0.0.1:6379/0",
        workers: int = 1,
        migrate: bool = True,
        out: TextIO = sys.stdout,
    ) -> None:
        self.addr, self.port, self.redis_port = addr, port, redis_port
        self.local_redis, self.workers, self.migrate = local_redis, workers, migrate
        self.out = out
        self.var_dir = Path(os.environ.get("VAR_DIR") or ROOT / "var")
        self.redis: RedisServer | None = None
        self.children: dict[str, Process] = {}
        self.stopping = False

    @property
    def base_url(self) -> str:
        return f"http://{self.addr}:{self.port}"

    def say(self, message: str, stream: TextIO | None = None) -> None:
        print(message, file=stream or self.out, flush=True)

    def run(self) -> int:
        """Start everything, supervise until a signal or a death; the exit status."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            self.env = {**os.environ, "REDIS_URL": self._redis()}
            if self.migrate:
                subprocess.run([*MANAGE, "migrate", "--noinput", "-v0"], env=self.env, check=True)
            self._start_children()
            ready = wait_until(
                lambda: self.stopping or self._api_answers() or self._dead_child(), timeout=60
            )
            if not ready:
                raise StackError(f"the API did not answer on {self.base_url} within 60 s")
            if not self.stopping and not self._dead_child():
                self._print_ready()
            return self._supervise()
        except (StackError, subprocess.CalledProcessError) as exc:
            self.say(str(exc), sys.stderr)
            return 1
        finally:
            self._stop_all()

    def _redis(self) -> str:
        if os.environ.get("REDIS_URL"):
            self.say(f"Redis: using REDIS_URL ({os.environ['REDIS_URL']})")
            return os.environ["REDIS_URL"]
        if redis_answers(self.local_redis):
            self.say(f"Redis: using the server at {self.local_redis}")
            return self.local_redis
        data_dir = self.var_dir / "redis"
        try:
            self.redis = RedisServer(data_dir, self.redis_port, appendonly=True).start()
        except RuntimeError as exc:
            raise StackError(str(exc)) from exc
        self.say(f"Redis: started the embedded redis-server on port {self.redis.port} ({data_dir})")
        return self.redis.url

    def _start_children(self) -> None:
        for index in range(self.workers):
            self._start(f"worker-{index + 1}")
        # One ASGI server for the whole API, so the live event stream is served too (Django's
        # runserver is WSGI only): docs/events.md.
        self.children["api"] = Process(
            events_command(self.port, self.addr), self.env, inherit_output=True
        )

    def _start(self, name: str) -> None:
        self.children[name] = Process(
            worker_command("--with-scheduler"),
            self.env,
            inherit_output=True,
        )

    def _api_answers(self) -> bool:
        return http_status(f"{self.base_url}/health/live", timeout=1) == 200

    def _dead_child(self) -> str | None:
        return next((name for name, child in self.children.items() if not child.alive()), None)

    def _print_ready(self) -> None:
        base = self.base_url
        self.say(
            "\nTanka Core API is running.\n"
            f"  API      {base}/api/v1/\n"
            f"  Docs     {base}/docs\n"
            f"  ReDoc    {base}/redoc\n"
            f"  Health   {base}/health\n"
            f"  Events   {base}/api/v1/events   (live, docs/events.md)\n"
            f"  Admin    {base}/admin/   (python manage.py createsuperuser)\n"
            f"  Redis    {self.env['REDIS_URL']}\n"
            + "".join(f"  {name:<8} pid {pid}\n" for name, pid in self._pids().items())
            + "Press Ctrl-C to stop."
        )

    def _pids(self) -> dict[str, int]:
        pids = {"redis": self.redis.process.pid} if self.redis and self.redis.process else {}
        return pids | {name: child.pid for name, child in self.children.items()}

    def _supervise(self) -> int:
        while not self.stopping:
            dead = self._dead_child()
            if (
                dead
                and dead.startswith("worker-")
                and (self.children[dead].proc.returncode == EXIT_HARD_LIMIT)
            ):
                self.say(
                    f"{dead} gave up a job stuck past its time limit; starting a fresh worker",
                    sys.stderr,
                )
                self._start(dead)
                self.say(f"  {dead:<8} pid {self.children[dead].pid}")
                continue
            if dead:
                code = self.children[dead].proc.returncode
                self.say(f"{dead} exited with code {code}; stopping the stack.", sys.stderr)
                return 1
            if self.redis is not None and not self.redis.alive():
                self.say("redis exited; stopping the stack.", sys.stderr)
                return 1
            time.sleep(0.2)
        return 0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def _stop_all(self) -> None:
        # The API and workers first, Redis last, so nothing loses its connection mid-job.
        for child in self.children.values():
            if child.alive():
                child.stop(timeout=15)
        if self.redis is not None:
            self.redis.stop()
        if self.children or self.redis:
            self.say("Stopped.")
