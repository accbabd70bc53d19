"""`manage.py worker_alive`: exit 0 when an RQ worker on this host has a fresh heartbeat.

The worker container's health check: a worker that hangs or lost Redis stops heart-beating
and the orchestrator restarts it.
"""

import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from rq import Worker


class Command(BaseCommand):
    help = "Exit 0 when an RQ worker on this host heartbeated recently, else 1."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--any-host", action="store_true", help="accept a live worker on any host"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        client = redis.Redis.from_url(
            settings.REDIS_QUEUE_URL, socket_connect_timeout=2, socket_timeout=2
        )
        cutoff = datetime.now(UTC) - timedelta(seconds=settings.RQ_WORKER_HEARTBEAT_WINDOW)
        host = socket.gethostname()
        try:
            alive = [
                worker.name
                for worker in Worker.all(connection=client)
                if (options["any_host"] or worker.hostname == host)
                and worker.last_heartbeat
                and worker.last_heartbeat.replace(tzinfo=UTC) >= cutoff
            ]
        except redis.RedisError as exc:
            raise CommandError(f"Redis is unreachable: {exc}") from exc
        finally:
            client.close()
        if not alive:
            raise CommandError(
                f"no RQ worker on {host} heartbeated in the last "
                f"{settings.RQ_WORKER_HEARTBEAT_WINDOW} s"
            )
        self.stdout.write(f"alive: {', '.join(alive)}")
