"""`manage.py jobs_info`: the engine at a glance in a terminal, as the admin index shows it."""

from typing import Any

from django.core.management.base import BaseCommand

from apps.jobs.selectors import engine_summary
from apps.jobs.templatetags.jobs_admin import age


class Command(BaseCommand):
    help = "Jobs by status (last 24 h), the oldest pending job, queue depths and live workers."

    def handle(self, *args: Any, **options: Any) -> None:
        summary = engine_summary()
        write = self.stdout.write
        write("Jobs, last 24 h: " + ", ".join(f"{k} {v}" for k, v in summary.by_status.items()))
        oldest = summary.oldest_pending_age
        write(f"Oldest pending:  {age(oldest) if oldest else 'none pending'}")
        if summary.redis_error:
            write(self.style.ERROR(summary.redis_error))
        else:
            write(
                "Queues:          " + ", ".join(f"{k} {v}" for k, v in summary.queue_depths.items())
            )
        write(f"Schedules:       {summary.schedules_enabled} enabled")
        write(f"Workers alive:   {len(summary.workers)}")
        for worker in summary.workers:
            doing = (
                f"running {worker.job_name or '?'} {worker.job_id}"
                if worker.job_id
                else worker.state
            )
            write(f"  {worker.name} ({', '.join(worker.queues)}): {doing}")
