"""`manage.py reconcile_jobs`: one reconciliation pass now (the scheduler runs it anyway)."""

from typing import Any

from django.core.management.base import BaseCommand

from apps.jobs.reconcile import reconcile


class Command(BaseCommand):
    help = "Fail or retry jobs whose worker died, and queue again jobs the queue lost."

    def handle(self, *args: Any, **options: Any) -> None:
        report = reconcile()
        self.stdout.write(
            f"retried {len(report.retried)}, failed {len(report.failed)}, "
            f"queued again {len(report.requeued)}"
        )
