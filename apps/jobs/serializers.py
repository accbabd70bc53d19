import json
from typing import Any

from rest_framework import serializers

from apps.core.fields import JSONObjectField, StrictBooleanField, StrictFloatField
from apps.core.serializers import FieldsBuiltOnce
from apps.jobs.models import Job
from apps.jobs.tasks import TEST_MAX_DURATION
from tanka.names import QUEUES

MAX_PAYLOAD_BYTES = 16 * 1024
MAX_DELAY_SECONDS = 24 * 3600


class JobSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    """A job as its owner sees it (docs/api.md, "Jobs"); the traceback stays in the admin."""

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
            "scheduled_for",
            "cancel_requested",
        ]
        read_only_fields = fields

    def to_representation(self, instance: Job) -> dict[str, Any]:
        data = super().to_representation(instance)
        for name in ("error", "request_id"):
            data[name] = data[name] or None
        return data


class JobTestInputSerializer(FieldsBuiltOnce, serializers.Serializer):
    """The test job's options, all optional: how long it works, whether it fails, its queue,
    the payload it returns, and a delay before it runs."""

    duration = StrictFloatField(min_value=0, max_value=TEST_MAX_DURATION, default=0)
    fail = StrictBooleanField(default=False)
    queue = serializers.ChoiceField(choices=list(QUEUES), default="default")
    payload = JSONObjectField(default=dict)
    delay = StrictFloatField(
        min_value=0,
        max_value=MAX_DELAY_SECONDS,
        default=0,
        help_text="Seconds to wait before the job runs (0: now); the job is `scheduled` meanwhile.",
    )

    def validate_payload(self, value: dict[str, Any]) -> dict[str, Any]:
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
        if size > MAX_PAYLOAD_BYTES:
            raise serializers.ValidationError(f"Must be at most {MAX_PAYLOAD_BYTES} bytes as JSON.")
        return value


class JobAcceptedSerializer(serializers.Serializer):
    """A job accepted: its id, and `queued` (to run now) or `scheduled` (to run later)."""

    job_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["queued", "scheduled"])
