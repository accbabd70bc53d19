import json
from typing import Any

from rest_framework import serializers

from apps.core.fields import JSONObjectField, StrictCharField
from apps.core.serializers import FieldsBuiltOnce
from apps.memories.models import Memory, MemoryType

MAX_CONTENT = 10_000
MAX_METADATA_BYTES = 16 * 1024
MAX_TAGS = 20
MAX_TAG_LENGTH = 50


class MemorySerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    """Input and output of a memory. On PUT, optional fields left out return to their
    defaults (the field defaults below apply to full writes only)."""

    content = StrictCharField(max_length=MAX_CONTENT, trim_whitespace=True)
    memory_type = serializers.ChoiceField(choices=MemoryType.choices, default=MemoryType.NOTE)
    metadata = JSONObjectField(default=dict)
    tags = serializers.ListField(
        child=StrictCharField(min_length=1, max_length=MAX_TAG_LENGTH, trim_whitespace=False),
        max_length=MAX_TAGS,
        default=list,
    )

    class Meta:
        model = Memory
        fields = [
            "id",
            "content",
            "memory_type",
            "metadata",
            "tags",
            "embedding_status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "embedding_status", "created_at", "updated_at"]

    def validate_metadata(self, value: Any) -> dict[str, Any]:
        if len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()) > (
            MAX_METADATA_BYTES
        ):
            raise serializers.ValidationError(
                f"Must be at most {MAX_METADATA_BYTES} bytes as JSON."
            )
        return value


class SimilarMemorySerializer(MemorySerializer):
    score = serializers.FloatField(read_only=True)

    class Meta(MemorySerializer.Meta):
        fields = [*MemorySerializer.Meta.fields, "score"]
        read_only_fields = fields
