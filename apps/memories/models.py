from django.conf import settings
from django.db import models

from apps.core.models import BaseModel


class MemoryType(models.TextChoices):
    NOTE = "note"
    FACT = "fact"
    EVENT = "event"
    TASK = "task"
    CONVERSATION = "conversation"
    DOCUMENT = "document"


# The task that computes a memory's embedding (apps/memories/tasks.py): services enqueue it
# by name.
EMBEDDING_TASK = "generate_embedding"


class EmbeddingStatus(models.TextChoices):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


class Memory(BaseModel):
    """Something a user wants Tanka to remember. Its embedding (float32 bytes, computed by a
    background job) lets the API find memories about the same thing."""

    # Every index below starts with the owner: a separate one would be written on every
    # insert and read by nothing.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memories", db_index=False
    )
    content = models.TextField()
    memory_type = models.CharField(
        max_length=20, choices=MemoryType.choices, default=MemoryType.NOTE
    )
    metadata = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list, blank=True)
    embedding = models.BinaryField(null=True, blank=True, editable=False)
    embedding_status = models.CharField(
        max_length=10, choices=EmbeddingStatus.choices, default=EmbeddingStatus.PENDING
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "memories"
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="memory_owner_created"),
            models.Index(fields=["owner", "-updated_at"], name="memory_owner_updated"),
            models.Index(fields=["owner", "memory_type", "-created_at"], name="memory_owner_type"),
            models.Index(fields=["owner", "embedding_status"], name="memory_owner_embedding"),
        ]

    def __str__(self) -> str:
        return self.content[:60]
