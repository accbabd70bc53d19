from typing import Any

from django.conf import settings
from rest_framework import serializers

from apps.core.fields import JSONObjectField, StrictBooleanField, StrictFloatField
from apps.jobs.models import Job
from apps.jobs.tasks import TEST_MAX_DURATION


class JobSerializer(serializers.ModelSerializer):
    """A job as its owner sees it (CONTRACT 6); the traceback stays in the admin."""

    error = serializers.CharField(allow_null=True, read_only=True)
    request_id = serializers.CharField(allow_null=True, read_only=True)
    result = serializers.JSONField(allow_null=True, read_only=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "name",
            "queue",
            "status",
            "result",
            "error",
            "attempts",
            "progress",
            "request_id",
            "created_at",
            "started_at",
            "completed_at",
        ]
        read_only_fields = fields

    def to_representation(self, instance: Job) -> dict[str, Any]:
        data = super().to_representation(instance)
        for name in ("error", "request_id"):
            data[name] = data[name] or None
        return data


class JobTestInputSerializer(serializers.Serializer):
    duration = StrictFloatField(min_value=0, max_value=TEST_MAX_DURATION, default=0)
    fail = StrictBooleanField(default=False)
    queue = serializers.ChoiceField(choices=[], default="default")
    payload = JSONObjectField(default=dict)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["queue"].choices = list(settings.RQ_QUEUES)


class JobAcceptedSerializer(serializers.Serializer):
    job_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["queued"])
