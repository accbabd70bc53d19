"""The operators' console for jobs: read-only rows, and the two actions that change them
through the same services as the API (django-q2's admin is the model)."""

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from apps.core.exceptions import ApplicationError
from apps.jobs import services
from apps.jobs.models import Job, JobStatus


def _pre(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=2, sort_keys=True)
    return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', text or "—")


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "name",
        "status",
        "queue",
        "owner",
        "attempts",
        "duration_display",
        "created_at",
    )
    list_filter = ("status", "queue", "name")
    search_fields = ("id", "name", "owner__email")
    list_select_related = ("owner",)
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    actions = ("retry_failed", "cancel_pending")
    fieldsets = (
        (None, {"fields": ("id", "name", "status", "queue", "owner", "request_id", "worker_name")}),
        ("Run", {"fields": ("attempts", "max_retries", "timeout", "progress")}),
        ("Input and output", {"fields": ("args_display", "kwargs_display", "result_display")}),
        ("Failure", {"fields": ("error", "traceback_display")}),
        (
            "Timings",
            {
                "fields": (
                    "created_at",
                    "enqueued_at",
                    "started_at",
                    "completed_at",
                    "duration_display",
                    "rq_dashboard",
                )
            },
        ),
    )
    readonly_fields = (
        "id",
        "name",
        "status",
        "queue",
        "owner",
        "request_id",
        "worker_name",
        "attempts",
        "max_retries",
        "timeout",
        "progress",
        "args_display",
        "kwargs_display",
        "result_display",
        "error",
        "traceback_display",
        "created_at",
        "enqueued_at",
        "started_at",
        "completed_at",
        "duration_display",
        "rq_dashboard",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        # Rows are never edited by hand; the change permission only unlocks the actions.
        return obj is None and super().has_change_permission(request)

    @admin.display(description="duration")
    def duration_display(self, job: Job) -> str:
        duration = job.duration
        return f"{duration.total_seconds():.2f} s" if duration is not None else "—"

    @admin.display(description="args")
    def args_display(self, job: Job) -> str:
        return _pre(job.args)

    @admin.display(description="kwargs")
    def kwargs_display(self, job: Job) -> str:
        return _pre(job.kwargs)

    @admin.display(description="result")
    def result_display(self, job: Job) -> str:
        return _pre(job.result)

    @admin.display(description="traceback")
    def traceback_display(self, job: Job) -> str:
        return _pre(job.traceback)

    @admin.display(description="queues")
    def rq_dashboard(self, job: Job) -> str:
        return format_html(
            '<a href="{}">RQ dashboard (queues, workers, registries)</a>',
            reverse("admin:django_rq_dashboard_changelist"),
        )

    def _apply(
        self, request: HttpRequest, queryset: QuerySet[Job], status: str, service: Any, verb: str
    ) -> None:
        done, errors = 0, []
        skipped = queryset.exclude(status=status).count()
        for job in queryset.filter(status=status):
            try:
                service(job=job)
                done += 1
            except ApplicationError as exc:
                errors.append(f"{job.id}: {exc.message}")
        if done:
            self.message_user(request, f"{verb} {done} job(s).", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"Skipped {skipped} job(s) that were not {status}.", messages.WARNING
            )
        for error in errors:
            self.message_user(request, error, messages.ERROR)

    @admin.action(description="Retry selected failed jobs", permissions=["change"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._apply(request, queryset, JobStatus.FAILED, services.job_retry, "Queued again")

    @admin.action(description="Cancel selected pending jobs", permissions=["change"])
    def cancel_pending(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._apply(request, queryset, JobStatus.PENDING, services.job_cancel, "Cancelled")
