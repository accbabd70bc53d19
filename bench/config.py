"""Where the benchmark runs what it measures: this machine's PostgreSQL and Redis (databases
of its own), with the settings that would refuse its load turned off."""

import os
import time

from tanka.names import RATE_LIMIT_SETTINGS

PG_SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0")
QUEUE_DB, CACHE_DB = 12, 13
# Production settings, with every rate limit and the per-user job cap off.
UNLIMITED = {**dict.fromkeys(RATE_LIMIT_SETTINGS, "0"), "JOBS_MAX_ACTIVE_PER_USER": "0"}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)
