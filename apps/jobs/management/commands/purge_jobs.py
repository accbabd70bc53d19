"""`manage.py purge_jobs`: delete finished jobs past their retention now (an hourly schedule
does it anyway)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.jobs.services import jobs_purge


class Command(BaseCommand):
    help = (
        "Delete completed, failed and cancelled jobs older than JOBS_KEEP_* days (or "
        "--older-than-days); scheduled, pending and running jobs are never deleted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count, delete nothing.")
        parser.add_argument(
            "--older-than-days",
            type=int,
            default=None,
            help="Instead of JOBS_KEEP_*: finished more than this many days ago (0: all).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["older_than_days"]
        if days is not None and days < 0:
            self.stderr.write("--older-than-days must be 0 or more")
            raise SystemExit(2)
        result = jobs_purge(older_than_days=days, dry_run=options["dry_run"])
        detail = ", ".join(f"{status} {count}" for status, count in result.by_status.items())
        verb = "Would delete" if result.dry_run else "Deleted"
        self.stdout.write(
            f"{verb} {result.deleted} finished jobs ({detail or 'none kept for purging'})."
        )
