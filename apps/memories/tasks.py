"""Background work on memories: thin wrappers around the services."""

from typing import Any

from apps.jobs.engine import is_final_attempt, task
from apps.memories import services
from apps.memories.embeddings import get_embedder
from apps.memories.models import EMBEDDING_TASK


@task(
    name=EMBEDDING_TASK, queue="low_priority", timeout=60, retries=3, retry_intervals=[5, 30, 120]
)
def generate_embedding(memory_id: str) -> dict[str, Any]:
    """Compute a memory's embedding; after the last failed try its status says `failed`."""
    try:
        memory = services.memory_embed(memory_id=memory_id)
    except Exception:
        if is_final_attempt():
            services.memory_embedding_failed(memory_id=memory_id)
        raise
    if memory is None:
        # Deleted, or changed since: a newer job embeds the content it has now.
        return {"memory_id": memory_id, "status": "superseded"}
    return {"memory_id": memory_id, "status": "ready", "dimensions": get_embedder().dimensions}
