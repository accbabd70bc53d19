"""`/metrics` for Prometheus: the task engine read from the Job rows and Redis at scrape time.

Nothing is counted on the job path: a worker runs a job without touching a metric, and each
scrape asks the database and Redis a handful of aggregate questions instead. The run and wait
time histograms therefore describe the jobs that finished in the last `WINDOW` (a gauge
histogram: its buckets go down as well as up), not counters since a process started; a
scrape every 15-60 s sees every job. Queue depths and live workers come from Redis.
"""

import ipaddress
from collections.abc import Iterator
from datetime import UTC, timedelta
from typing import Any

import redis
from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from rest_framework.throttling import BaseThrottle
from rq import Queue, Worker

from apps.core.redis_clients import queue_redis
from apps.jobs.models import Job, JobStatus, Schedule

WINDOW = timedelta(minutes=5)
BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)


def _histogram(name: str, documentation: str, duration: Any, rows: Any) -> Metric:
    """One gauge histogram by task, from rows annotated with `duration`."""
    family = GaugeHistogramMetricFamily(name, documentation, labels=["task"])
    buckets = {
        f"le_{i}": Count("pk", filter=Q(duration__lte=timedelta(seconds=bound)))
        for i, bound in enumerate(BUCKETS)
    }
    aggregated = (
        rows.annotate(duration=duration)
        .values("name")
        .annotate(total=Count("pk"), seconds=Sum("duration"), **buckets)
        .order_by("name")
    )
    for row in aggregated:
        cumulative = [(str(bound), row[f"le_{i}"]) for i, bound in enumerate(BUCKETS)]
        cumulative.append(("+Inf", row["total"]))
        seconds = row["seconds"]
        total = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds or 0)
        family.add_metric([row["name"]], cumulative, gsum_value=total)
    return family


class EngineCollector:
    """Collects at scrape time (prometheus_client calls `collect` once per scrape)."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        jobs = GaugeMetricFamily(
            "tanka_jobs", "Job rows by task and status (finished ones until purged).",
            labels=["task", "status"],
        )  # fmt: skip
        counts = Job.objects.values_list("name", "status").annotate(n=Count("pk")).order_by()
        for name, status, count in counts:
            jobs.add_metric([name, status], count)
        yield jobs

        oldest = (
            Job.objects.filter(status=JobStatus.PENDING)
            .order_by("created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        yield GaugeMetricFamily(
            "tanka_jobs_oldest_pending_seconds",
            "Age of the oldest pending job (0 when none is pending).",
            value=(now - oldest).total_seconds() if oldest else 0,
        )
        yield GaugeMetricFamily(
            "tanka_schedules_enabled",
            "Enabled schedules.",
            value=Schedule.objects.filter(enabled=True).count(),
        )

        finished = Job.objects.filter(
            status__in=(JobStatus.COMPLETED, JobStatus.FAILED),
            completed_at__gte=now - WINDOW,
            started_at__isnull=False,
        )
        yield _histogram(
            "tanka_job_run_seconds",
            f"Run time of the last attempt of jobs finished in the last {WINDOW.seconds} s.",
            ExpressionWrapper(F("completed_at") - F("started_at"), output_field=DurationField()),
            finished,
        )
        due = Coalesce("scheduled_for", "created_at")
        yield _histogram(
            "tanka_job_wait_seconds",
            f"From due (created, or its scheduled time) to start, of jobs that ran once and "
            f"finished in the last {WINDOW.seconds} s.",
            ExpressionWrapper(F("started_at") - due, output_field=DurationField()),
            finished.filter(attempts=1),
        )
        yield from self._redis(now)

    def _redis(self, now: Any) -> Iterator[Metric]:
        up = GaugeMetricFamily("tanka_task_queue_up", "1 when Redis (the task queue) answers.")
        depth = GaugeMetricFamily(
            "tanka_queue_depth", "Jobs waiting in each RQ queue.", labels=["queue"]
        )
        workers = GaugeMetricFamily(
            "tanka_workers_alive", "Workers whose last heartbeat is recent."
        )
        try:
            connection = queue_redis()
            for name in settings.RQ_QUEUES:
                depth.add_metric([name], Queue(name, connection=connection).count)
            cutoff = now - timedelta(seconds=settings.RQ_WORKER_HEARTBEAT_WINDOW)
            alive = sum(
                1
                for worker in Worker.all(connection=connection)
                if worker.last_heartbeat and worker.last_heartbeat.replace(tzinfo=UTC) >= cutoff
            )
        except redis.RedisError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        workers.add_metric([], alive)
        yield from (up, depth, workers)


_registry = CollectorRegistry(auto_describe=False)
_registry.register(EngineCollector())


def allowed(request: HttpRequest) -> bool:
    """Staff, or a client address in `METRICS_ALLOWED_IPS` (the proxies' `NUM_PROXIES` are
    honoured, as for rate limits)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_active and user.is_staff:
        return True
    try:
        address = ipaddress.ip_address(BaseThrottle().get_ident(request))
    except ValueError:
        return False
    for entry in settings.METRICS_ALLOWED_IPS:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        return HttpResponse(
            "Forbidden: /metrics is for staff, or for the addresses in METRICS_ALLOWED_IPS.\n",
            status=403,
            content_type="text/plain",
        )
    return HttpResponse(generate_latest(_registry), content_type=CONTENT_TYPE_LATEST)
