from datetime import timedelta

from django.conf import settings
from django.db import models

from apps.core.models import BaseModel

# The test job's task (apps/jobs/tasks.py): services enqueue it by name.
TEST_TASK = "test"


class JobStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINAL_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)
# Statuses of a job that has yet to end: never purged, and counted by the per-user cap.
ACTIVE_STATUSES = (JobStatus.SCHEDULED, JobStatus.PENDING, JobStatus.RUNNING)


class Job(BaseModel):
    """One background job, and the source of truth about it.

    The row is written before RQ hears of the job and its UUID is the RQ job id, so a job can
    always be found, shown and reasoned about even when Redis lost it. Only
    `apps/jobs/lifecycle.py` changes `status`, each transition one compare-and-set update, so
    a worker, a reconciliation and an API call racing on one job never undo each other.
    """

    name = models.CharField(max_length=200, help_text="The registered task name.")
    queue = models.CharField(max_length=50)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, help_text="One line, shown to the owner.")
    traceback = models.TextField(blank=True, help_text="Shown to operators only.")
    attempts = models.PositiveIntegerField(default=0, help_text="Every try, the first included.")
    max_retries = models.PositiveIntegerField(
        default=0,
        help_text="Tries after the first allowed over the job's life; a manual retry adds the "
        "task's retries again.",
    )
    timeout = models.PositiveIntegerField(help_text="Time limit of one attempt, in seconds.")
    progress = models.PositiveSmallIntegerField(default=0)
    # No index of their own: the owner's lead the per-owner indexes below, the schedule's
    # the one-job-per-firing constraint, and each separate index would be written on every
    # insert and status change.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="jobs",
        db_index=False,
    )
    request_id = models.CharField(max_length=128, blank=True)
    worker_name = models.CharField(max_length=200, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    scheduled_for = models.DateTimeField(
        null=True, blank=True, help_text="When a delayed or scheduled job was due to run."
    )
    schedule = models.ForeignKey(
        "Schedule",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="jobs",
        db_index=False,
    )
    cancel_requested = models.BooleanField(
        default=False, help_text="Asked to stop while running; it ends cancelled."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="jobs_owner_created"),
            models.Index(
                fields=["owner", "status", "-created_at"], name="jobs_owner_status_created"
            ),
            models.Index(fields=["owner", "name", "-created_at"], name="jobs_owner_name_created"),
            models.Index(fields=["status", "created_at"], name="jobs_status_created"),
            models.Index(fields=["queue", "status"], name="jobs_queue_status"),
            models.Index(fields=["name", "status"], name="jobs_name_status"),
            models.Index(fields=["status", "completed_at"], name="jobs_status_completed"),
            models.Index(
                fields=["scheduled_for"],
                condition=models.Q(status="scheduled"),
                name="jobs_scheduled_due",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__gte=0, progress__lte=100),
                name="jobs_progress_0_100",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=JobStatus.values), name="jobs_status_valid"
            ),
            # One job per firing of a schedule, however many schedulers race to fire it.
            models.UniqueConstraint(
                fields=["schedule", "scheduled_for"], name="jobs_one_job_per_firing"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.id} ({self.status})"

    @property
    def duration(self) -> timedelta | None:
        """How long the last attempt ran; None until it has both ends."""
        if self.started_at and self.completed_at and self.status != JobStatus.CANCELLED:
            return self.completed_at - self.started_at
        return None


class ScheduleKind(models.TextChoices):
    ONCE = "once", "Once"
    INTERVAL = "interval", "Interval"
    CRON = "cron", "Cron"


class CatchUp(models.TextChoices):
    SKIP = "skip", "Skip missed firings"
    ONCE = "once", "One firing for all missed"
    ALL = "all", "Every missed firing"


class Schedule(BaseModel):
    """A task to run at a time, every so often, or on a cron expression.

    The engine keeps `next_run_at`: a scheduler fires a schedule by moving `next_run_at` on
    with a compare-and-set and writing the firing's job in the same transaction, and the
    unique (schedule, scheduled_for) constraint on jobs makes a second scheduler racing for
    the same firing fail rather than run it twice (`apps/jobs/schedules.py`).
    """

    name = models.CharField(max_length=100, unique=True)
    task = models.CharField(max_length=200, help_text="A registered task name.")
    args = models.JSONField(default=list, blank=True, help_text="A JSON list.")
    kwargs = models.JSONField(default=dict, blank=True, help_text="A JSON object.")
    queue = models.CharField(max_length=50, blank=True, help_text="Blank: the task's own queue.")
    kind = models.CharField(max_length=10, choices=ScheduleKind.choices)
    run_at = models.DateTimeField(null=True, blank=True, help_text="For once.")
    interval_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="For interval: seconds between firings (at least 1)."
    )
    cron = models.CharField(
        max_length=200, blank=True, help_text="For cron: five fields, e.g. */15 9-17 * * mon-fri"
    )
    timezone = models.CharField(max_length=64, default="UTC", help_text="For cron: an IANA zone.")
    enabled = models.BooleanField(default=True)
    repeats = models.IntegerField(
        default=-1, help_text="-1: forever; else how many more firings (0: done)."
    )
    catch_up = models.CharField(max_length=4, choices=CatchUp.choices, default=CatchUp.SKIP)
    allow_overlap = models.BooleanField(
        default=False,
        help_text="Off: a firing whose previous job is still pending or running is skipped.",
    )
    declared_in_code = models.BooleanField(
        default=False, editable=False, help_text="Kept in step with the code after migrate."
    )
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(
                fields=["next_run_at"], condition=models.Q(enabled=True), name="jobs_schedule_due"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(repeats__gte=-1), name="jobs_schedule_repeats_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name
