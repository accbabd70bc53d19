"""A pytest plugin (`-p devstack.pytest_redis`, pytest.ini) that gives the test run a real
Redis before Django's settings are read.

REDIS_URL wins when set (CI's real server). Otherwise the first pytest process starts one
embedded redis-server on a free port, and xdist workers inherit its URL. Each xdist worker
gets its own pair of Redis databases, so parallel tests never see each other's keys.
"""

import atexit
import os
import tempfile
from pathlib import Path

from devstack.redis import RedisServer

if not os.environ.get("REDIS_URL"):
    _server = RedisServer(Path(tempfile.mkdtemp(prefix="tanka-test-redis-")), databases=64)
    atexit.register(_server.stop)
    os.environ["REDIS_URL"] = _server.start().url

# Databases 0 and 1 stay for `make run`; the test run and each xdist worker take a pair above.
_index = int(os.environ.get("PYTEST_XDIST_WORKER", "gw-1")[2:]) + 1
os.environ["REDIS_QUEUE_DB"] = str(2 + 2 * _index)
os.environ["REDIS_CACHE_DB"] = str(3 + 2 * _index)
