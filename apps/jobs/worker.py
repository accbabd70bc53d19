"""The RQ worker class every `manage.py rqworker` runs (settings.RQ["WORKER_CLASS"])."""

from typing import Any

from django.conf import settings
from django.db import connections
from rq.job import Job
from rq.queue import Queue
from rq.worker import Worker


class TankaWorker(Worker):
    """RQ's forking worker, made safe for Django and quick to be seen dead.

    - DB connections are closed before each fork: a connection opened in the parent (by a
      hook that wrote a Job row) must never be shared with the child.
    - The worker TTL is capped at `RQ_WORKER_TTL`, so an idle worker heartbeats every
      `RQ_WORKER_TTL - 15` s and /health can tell a live worker from one that was killed.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        ttl = kwargs.get("worker_ttl") or settings.RQ_WORKER_TTL
        kwargs["worker_ttl"] = min(ttl, settings.RQ_WORKER_TTL)
        super().__init__(*args, **kwargs)

    def fork_work_horse(self, job: Job, queue: Queue) -> None:
        connections.close_all()
        super().fork_work_horse(job, queue)
