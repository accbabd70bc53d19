"""Embeddings computed by a real RQ worker, the embedding_status lifecycle, and /similar."""

import pytest

from apps.jobs import lifecycle
from apps.jobs.models import Job, JobStatus
from apps.memories.models import EmbeddingStatus, Memory
from apps.memories.tasks import generate_embedding
from apps.memories.tests.conftest import URL

pytestmark = pytest.mark.django_db(transaction=True)

CATS = ["My cat loves tuna", "The cat sleeps on the warm laptop", "Cat food is on sale"]
TAXES = ["File the quarterly tax return", "Tax deadline is in April", "Ask the accountant"]


def create(client, content: str) -> str:
    response = client.post(URL, {"content": content}, format="json")
    assert response.status_code == 201
    return response.json()["data"]["id"]


def status_of(client, memory_id: str) -> str:
    return client.get(f"{URL}/{memory_id}").json()["data"]["embedding_status"]


def test_a_worker_computes_the_embedding(owner_client, run_jobs):
    memory_id = create(owner_client, "remember the milk")
    assert status_of(owner_client, memory_id) == "pending"
    job = Job.objects.get(name="generate_embedding")
    assert (job.queue, job.args) == ("low_priority", [memory_id])
    run_jobs()
    assert status_of(owner_client, memory_id) == "ready"
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert len(Memory.objects.get(pk=memory_id).embedding) == 512 * 4


def test_the_cached_memory_is_fresh_by_the_time_its_job_says_completed(
    owner_client, run_jobs, monkeypatch
):
    """A client that waits for the embedding job and then reads the memory sees it ready: the
    job invalidates the cache before its row says completed, not with its events after."""
    memory_id = create(owner_client, "remember the milk")
    assert status_of(owner_client, memory_id) == "pending"  # now cached
    seen_when_finishing = []
    finish_unclaimed = lifecycle.finish_unclaimed

    def finishing(job, status, **changes):
        seen_when_finishing.append(status_of(owner_client, memory_id))
        return finish_unclaimed(job, status, **changes)

    monkeypatch.setattr(lifecycle, "finish_unclaimed", finishing)
    run_jobs()

    assert seen_when_finishing == ["ready"]


def test_content_changes_requeue_and_other_changes_do_not(owner_client, run_jobs):
    memory_id = create(owner_client, "first words")
    run_jobs()
    owner_client.patch(f"{URL}/{memory_id}", {"tags": ["x"]}, format="json")
    assert Job.objects.filter(name="generate_embedding").count() == 1
    assert status_of(owner_client, memory_id) == "ready"

    owner_client.patch(f"{URL}/{memory_id}", {"content": "other words"}, format="json")
    assert Job.objects.filter(name="generate_embedding").count() == 2
    assert status_of(owner_client, memory_id) == "pending"
    run_jobs()
    assert status_of(owner_client, memory_id) == "ready"


def test_similar_is_409_while_the_embedding_is_pending(owner_client):
    memory_id = create(owner_client, "not yet embedded")
    response = owner_client.get(f"{URL}/{memory_id}/similar")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CONFLICT"


def test_similar_ranks_cat_memories_above_tax_memories(owner_client, run_jobs):
    ids = {content: create(owner_client, content) for content in CATS + TAXES}
    query = create(owner_client, "What does my cat like to eat? Tuna or cat food?")
    pending = create(owner_client, "a cat memory still pending")
    run_jobs()
    Memory.objects.filter(pk=pending).update(embedding_status=EmbeddingStatus.PENDING)

    body = owner_client.get(f"{URL}/{query}/similar?limit=3").json()
    assert body["success"] is True
    assert body["meta"]["per_page"] == 3
    assert body["meta"]["total"] == len(CATS + TAXES)
    top = [item["content"] for item in body["data"]]
    assert set(top) == set(CATS)
    scores = [item["score"] for item in body["data"]]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    everything = owner_client.get(f"{URL}/{query}/similar?limit=50").json()["data"]
    assert query not in {item["id"] for item in everything}
    assert pending not in {item["id"] for item in everything}
    assert {item["id"] for item in everything} == set(ids.values())


def test_similar_limit_defaults_to_five_and_rejects_bad_values(owner_client, run_jobs):
    query = create(owner_client, "one")
    for index in range(7):
        create(owner_client, f"memory {index}")
    run_jobs()
    assert len(owner_client.get(f"{URL}/{query}/similar").json()["data"]) == 5
    assert owner_client.get(f"{URL}/{query}/similar?limit=0").status_code == 400
    assert owner_client.get(f"{URL}/{query}/similar?limit=abc").status_code == 400


def test_a_final_failure_marks_the_embedding_failed(owner, make_memory, monkeypatch):
    memory = make_memory(content="will fail")

    def broken(*args, **kwargs):
        raise RuntimeError("embedder down")

    monkeypatch.setattr("apps.memories.services.get_embedder", broken)
    with pytest.raises(RuntimeError):
        generate_embedding(str(memory.pk))
    memory.refresh_from_db()
    assert memory.embedding_status == EmbeddingStatus.FAILED


def test_a_memory_deleted_before_its_job_runs_is_no_error(owner_client, run_jobs):
    memory_id = create(owner_client, "short lived")
    owner_client.delete(f"{URL}/{memory_id}")
    run_jobs()
    job = Job.objects.get(name="generate_embedding")
    assert job.status == JobStatus.COMPLETED
    assert job.result["status"] == "superseded"


def test_with_redis_down_the_memory_is_saved_and_its_job_says_why(owner_client, redis_down):
    memory_id = create(owner_client, "saved without a queue")
    memory = Memory.objects.get(pk=memory_id)
    assert memory.embedding_status == EmbeddingStatus.FAILED
    job = Job.objects.get(name="generate_embedding")
    assert job.status == JobStatus.FAILED
    assert "unavailable" in job.error
