"""Reads of jobs, always for one owner: another user's job does not exist for the caller."""

from typing import Any

from django.db.models import QuerySet

from apps.jobs.models import Job


def job_list(*, user: Any) -> QuerySet[Job]:
    if not getattr(user, "is_authenticated", False):
        return Job.objects.none()
    return Job.objects.filter(owner=user).order_by("-created_at", "-id")
