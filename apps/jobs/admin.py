"""The operators' console for jobs and schedules: read-only job rows, actions that change them
through the same services as the API, and schedules with their next runs (django-q2's admin
is the model). django-rq's dashboard is gated and acts on Job rows (`apps/jobs/rq_dashboard.py`)."""

import json
from typing import Any

from cron_descriptor import get_description
from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from apps.core.exceptions import ApplicationError
from apps.jobs import rq_dashboard, schedules, services
from apps.jobs.models import ACTIVE_STATUSES, Job, JobStatus, Schedule, ScheduleKind

rq_dashboard.install()


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
    actions = ("retry_failed", "cancel_jobs")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "id",
                    "name",
                    "status",
                    "cancel_requested",
                    "queue",
                    "owner",
                    "schedule",
                    "request_id",
                    "worker_name",
                )
            },
        ),  # fmt: skip
        ("Run", {"fields": ("attempts", "max_retries", "timeout", "progress")}),
        ("Input and output", {"fields": ("args_display", "kwargs_display", "result_display")}),
        ("Failure", {"fields": ("error", "traceback_display")}),
        (
            "Timings",
            {
                "fields": (
                    "created_at",
                    "scheduled_for",
                    "enqueued_at",
                    "started_at",
                    "completed_at",
                    "duration_display",
                    "rq_dashboard",
                )
            },
        ),
    )
    # Rows are never edited by hand: every field shown is read-only.
    readonly_fields = tuple(name for _, options in fieldsets for name in options["fields"])

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
        self,
        request: HttpRequest,
        queryset: QuerySet[Job],
        statuses: tuple[str, ...],
        service: Any,
        verb: str,
    ) -> None:
        done, errors = 0, []
        skipped = queryset.exclude(status__in=statuses).count()
        for job in queryset.filter(status__in=statuses):
            try:
                service(job=job)
                done += 1
            except ApplicationError as exc:
                errors.append(f"{job.id}: {exc.message}")
        if done:
            self.message_user(request, f"{verb} {done} job(s).", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"Skipped {skipped} job(s) that were not {' or '.join(statuses)}.",
                messages.WARNING,
            )
        for error in errors:
            self.message_user(request, error, messages.ERROR)

    @admin.action(description="Retry selected failed jobs", permissions=["change"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._apply(request, queryset, (JobStatus.FAILED,), services.job_retry, "Queued again")

    @admin.action(
        description="Cancel selected jobs (scheduled, pending; running ones are stopped)",
        permissions=["change"],
    )
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._apply(
            request,
            queryset,
            ACTIVE_STATUSES,
            services.job_cancel,
            "Cancelled (running ones asked to stop)",
        )


class ScheduleForm(forms.ModelForm):
    """Refuses what would fail at firing time, naming the field: an unknown task, arguments
    it cannot take, a bad cron string or zone (`apps/jobs/schedules.py`, `errors`)."""

    class Meta:
        model = Schedule
        fields = (
            "name", "task", "args", "kwargs", "queue", "enabled", "kind", "run_at",
            "interval_seconds", "cron", "timezone", "repeats", "catch_up", "allow_overlap",
        )  # fmt: skip

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        probe = Schedule(**{
            name: cleaned.get(name, getattr(self.instance, name))
            for name in ("task", "args", "kwargs", "queue", "kind", "run_at", "interval_seconds",
                         "cron", "timezone", "repeats")
        })  # fmt: skip
        for name, message in schedules.errors(probe).items():
            if name not in self.errors:
                self.add_error(name, message)
        return cleaned


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    form = ScheduleForm
    list_display = (
        "name", "task", "timing", "enabled", "next_runs", "last_job_display", "catch_up",
        "declared_in_code",
    )  # fmt: skip
    list_filter = ("enabled", "kind", "declared_in_code")
    search_fields = ("name", "task")
    list_select_related = ("last_job",)
    actions = ("run_now", "enable", "disable")
    fieldsets = (
        (None, {"fields": ("name", "task", "args", "kwargs", "queue", "enabled")}),
        ("When", {"fields": ("kind", "run_at", "interval_seconds", "cron", "timezone")}),
        ("How", {"fields": ("repeats", "catch_up", "allow_overlap")}),
        (
            "Kept by the engine",
            {"fields": ("next_runs", "last_run_at", "last_job_display", "declared_in_code")},
        ),
    )
    readonly_fields = ("next_runs", "last_run_at", "last_job_display", "declared_in_code")
    # What code declares, code keeps (after every migrate); an operator may still disable it.
    DECLARED_FIELDS = (
        "name", "task", "args", "kwargs", "queue", "kind", "run_at", "interval_seconds", "cron",
        "timezone", "repeats", "catch_up", "allow_overlap",
    )  # fmt: skip

    def get_readonly_fields(self, request: HttpRequest, obj: Schedule | None = None) -> Any:
        if obj is not None and obj.declared_in_code:
            return (*self.readonly_fields, *self.DECLARED_FIELDS)
        return self.readonly_fields

    @admin.display(description="when")
    def timing(self, schedule: Schedule) -> str:
        if schedule.kind == ScheduleKind.INTERVAL:
            return f"every {schedule.interval_seconds} s"
        if schedule.kind == ScheduleKind.CRON:
            try:
                described = get_description(schedule.cron)
            except Exception:  # a row written around the form
                described = "invalid"
            return f"{schedule.cron} ({described}, {schedule.timezone})"
        return f"once at {schedule.run_at:%Y-%m-%d %H:%M:%S %Z}" if schedule.run_at else "once"

    @admin.display(description="next runs")
    def next_runs(self, schedule: Schedule) -> str:
        count = 3 if schedule.kind == ScheduleKind.CRON else 1
        times = schedules.upcoming(schedule, count)
        if not times:
            return "—"
        return format_html_join(
            mark_safe("<br>"),
            "{}",
            ((f"{timezone.localtime(t):%Y-%m-%d %H:%M:%S %Z}",) for t in times),
        )

    @admin.display(description="last job")
    def last_job_display(self, schedule: Schedule) -> str:
        job = schedule.last_job
        if job is None:
            return "—"
        return format_html(
            '<a href="{}">{}</a> ({})',
            reverse("admin:jobs_job_change", args=[job.pk]),
            str(job.pk)[:8],
            job.status,
        )

    def save_model(self, request: HttpRequest, obj: Schedule, form: Any, change: bool) -> None:
        if not change or set(form.changed_data) & set(schedules.TIMING_FIELDS):
            schedules.reschedule(obj)
        super().save_model(request, obj, form, change)

    @admin.action(description="Run now (an extra job, the schedule unchanged)")
    def run_now(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        for schedule in queryset:
            try:
                job = schedules.run_now(schedule)
            except (LookupError, TypeError, ApplicationError) as exc:
                self.message_user(request, f"{schedule.name}: {exc}", messages.ERROR)
                continue
            self.message_user(
                request,
                format_html(
                    '{}: started job <a href="{}">{}</a>.',
                    schedule.name,
                    reverse("admin:jobs_job_change", args=[job.pk]),
                    job.pk,
                ),
                messages.SUCCESS,
            )

    @admin.action(description="Enable selected schedules")
    def enable(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        count = schedules.set_enabled(queryset, True)
        self.message_user(request, f"Enabled {count} schedule(s).", messages.SUCCESS)

    @admin.action(description="Disable selected schedules")
    def disable(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        count = schedules.set_enabled(queryset, False)
        self.message_user(request, f"Disabled {count} schedule(s).", messages.SUCCESS)
