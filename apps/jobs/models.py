from datetime import timedelta

from django.conf import settings
from django.db import models

from apps.core.models import BaseModel


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINAL_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


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
    max_retries = models.PositiveIntegerField(default=0)
    timeout = models.PositiveIntegerField(help_text="Time limit of one attempt, in seconds.")
    progress = models.PositiveSmallIntegerField(default=0)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="jobs",
    )
    request_id = models.CharField(max_length=128, blank=True)
    worker_name = models.CharField(max_length=200, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

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
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__gte=0, progress__lte=100),
                name="jobs_progress_0_100",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=JobStatus.values), name="jobs_status_valid"
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
