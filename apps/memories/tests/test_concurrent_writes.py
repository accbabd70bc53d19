"""Writes that overlap: each saves only the fields it changed, so neither undoes the other.

The races are made deterministic by running the other write at the exact point where it
would have to land: between a request's read of the memory and its save."""

import pytest

from apps.memories import selectors, services
from apps.memories.models import EmbeddingStatus, Memory

pytestmark = pytest.mark.django_db

URL = "/api/v1/memories"


def test_a_tags_patch_racing_the_embedding_job_leaves_the_embedding_ready(
    owner_client, make_memory, monkeypatch
):
    memory = make_memory("the quick brown fox")
    neighbour = make_memory("a quick brown dog")
    services.memory_embed(memory_id=str(neighbour.pk))
    loaded_by_the_patch = selectors.memory_get

    def read_then_the_job_commits(**kwargs):
        stale = loaded_by_the_patch(**kwargs)
        services.memory_embed(memory_id=str(stale.pk))
        return stale

    monkeypatch.setattr(selectors, "memory_get", read_then_the_job_commits)
    patched = owner_client.patch(f"{URL}/{memory.pk}", {"tags": ["fox"]}, format="json")
    monkeypatch.undo()

    stored = Memory.objects.get(pk=memory.pk)
    similar = owner_client.get(f"{URL}/{memory.pk}/similar")
    assert patched.status_code == 200
    assert (stored.tags, stored.embedding_status) == (["fox"], EmbeddingStatus.READY)
    assert stored.embedding is not None
    assert similar.status_code == 200
    assert [row["id"] for row in similar.json()["data"]] == [str(neighbour.pk)]


def test_two_patches_of_different_fields_both_stick(make_memory):
    memory = make_memory("shared", tags=["old"], metadata={"v": 0})
    first, second = Memory.objects.get(pk=memory.pk), Memory.objects.get(pk=memory.pk)

    services.memory_update(memory=first, data={"tags": ["new"]})
    services.memory_update(memory=second, data={"metadata": {"v": 1}})

    stored = Memory.objects.get(pk=memory.pk)
    assert (stored.tags, stored.metadata, stored.content) == (["new"], {"v": 1}, "shared")


def test_a_put_that_keeps_the_content_does_not_touch_the_embedding(make_memory):
    memory = make_memory("unchanged words")
    stale = Memory.objects.get(pk=memory.pk)
    services.memory_embed(memory_id=str(memory.pk))

    services.memory_update(memory=stale, data={"content": "unchanged words"}, replace=True)

    assert Memory.objects.get(pk=memory.pk).embedding_status == EmbeddingStatus.READY


def test_a_content_change_resets_the_embedding_and_queues_a_new_one(make_memory):
    memory = make_memory("first words")
    services.memory_embed(memory_id=str(memory.pk))
    stale = Memory.objects.get(pk=memory.pk)

    services.memory_update(memory=stale, data={"content": "other words"})

    stored = Memory.objects.get(pk=memory.pk)
    assert (stored.embedding_status, stored.embedding) == (EmbeddingStatus.PENDING, None)


def test_the_embedding_job_writes_only_the_embedding(make_memory, monkeypatch):
    memory = make_memory("words to embed")
    embedder = services.get_embedder()
    embed = embedder.embed

    def embed_while_a_patch_commits(text):
        Memory.objects.filter(pk=memory.pk).update(tags=["patched meanwhile"])
        return embed(text)

    monkeypatch.setattr(embedder, "embed", embed_while_a_patch_commits)
    services.memory_embed(memory_id=str(memory.pk))

    stored = Memory.objects.get(pk=memory.pk)
    assert (stored.tags, stored.embedding_status) == (["patched meanwhile"], EmbeddingStatus.READY)


def test_an_embedding_of_content_changed_meanwhile_is_not_stored(make_memory, monkeypatch):
    memory = make_memory("the old words")
    embedder = services.get_embedder()
    embed = embedder.embed

    def embed_while_the_content_changes(text):
        services.memory_update(
            memory=Memory.objects.get(pk=memory.pk), data={"content": "new words"}
        )
        return embed(text)

    monkeypatch.setattr(embedder, "embed", embed_while_the_content_changes)
    assert services.memory_embed(memory_id=str(memory.pk)) is None

    # The change queued an embedding of its own; this one, of the old words, is dropped.
    stored = Memory.objects.get(pk=memory.pk)
    assert (stored.content, stored.embedding_status, stored.embedding) == (
        "new words",
        EmbeddingStatus.PENDING,
        None,
    )
