"""`similar`: the vectorised ranking answers exactly what scoring each memory one by one
answered, its work is bounded, and it has its own rate limit."""

import itertools
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from apps.memories.embeddings import Ranking, cosine, get_embedder, pack, unpack
from apps.memories.models import EmbeddingStatus, Memory
from apps.memories.tests.conftest import URL

pytestmark = pytest.mark.django_db

WORDS = ["cat", "tuna", "tax", "april", "laptop", "warm", "sale", "garden", "rain", "train"]


def seed(owner, count: int) -> list[Memory]:
    """`count` memories with ready embeddings, oldest first; some share their content, so
    their scores tie exactly."""
    embedder = get_embedder()
    now = timezone.now()
    contents = [" ".join(words) for words in itertools.combinations(WORDS, 3)]
    memories = [
        Memory(
            owner=owner,
            content=contents[index % 40],
            embedding=pack(embedder.embed(contents[index % 40])),
            embedding_status=EmbeddingStatus.READY,
        )
        for index in range(count)
    ]
    Memory.objects.bulk_create(memories)
    for index, memory in enumerate(memories):
        Memory.objects.filter(pk=memory.pk).update(created_at=now + timedelta(seconds=index))
    return memories


def one_by_one(owner, memory: Memory) -> list[tuple[str, float]]:
    """The ranking as it was computed before: each candidate scored in Python, then sorted."""
    target = unpack(memory.embedding)
    candidates = (
        Memory.objects.filter(owner=owner, embedding_status=EmbeddingStatus.READY)
        .exclude(pk=memory.pk)
        .values_list("pk", "embedding")
    )
    scored = [(cosine(target, unpack(embedding)), pk) for pk, embedding in candidates]
    ranked = sorted(scored, key=lambda pair: (-pair[0], str(pair[1])))
    return [(str(pk), round(score, 6)) for score, pk in ranked]


def ranked(client, memory_id, **params) -> list[tuple[str, float]]:
    response = client.get(f"{URL}/{memory_id}/similar", params)
    assert response.status_code == 200, response.json()
    return [(row["id"], row["score"]) for row in response.json()["data"]]


def test_similar_ranks_and_scores_exactly_as_scoring_one_by_one(owner_client, owner):
    memories = seed(owner, 130)
    query = memories[7]
    expected = one_by_one(owner, query)

    pages = [ranked(owner_client, query.pk, limit=50, page=page) for page in (1, 2, 3)]
    window = ranked(owner_client, query.pk, limit=7, page=4)

    assert sum(pages, []) == expected
    assert window == expected[21:28]
    assert len({score for _, score in expected[:10]}) < 10  # the data holds ties


def test_similar_compares_only_the_most_recent_candidates(owner_client, owner, settings):
    settings.SIMILAR_MAX_CANDIDATES = 4
    memories = seed(owner, 12)
    query = memories[-1]

    response = owner_client.get(f"{URL}/{query.pk}/similar", {"limit": 50})

    newest_others = {str(memory.pk) for memory in memories[-5:-1]}
    assert response.json()["meta"]["total"] == 4
    assert {row["id"] for row in response.json()["data"]} == newest_others


def test_embeddings_of_another_size_are_left_out_not_a_500(owner_client, owner):
    memories = seed(owner, 3)
    Memory.objects.filter(pk=memories[0].pk).update(embedding=pack([0.5] * 4))

    response = owner_client.get(f"{URL}/{memories[2].pk}/similar")

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["data"]] == [str(memories[1].pk)]


def test_similar_has_its_own_rate_limit(owner_client, owner, settings):
    settings.RATE_LIMIT_SIMILAR_PER_MINUTE = 2
    memory = seed(owner, 2)[0]

    answers = [owner_client.get(f"{URL}/{memory.pk}/similar") for _ in range(3)]
    detail = owner_client.get(f"{URL}/{memory.pk}")

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[2].json()["error"]["code"] == "RATE_LIMITED"
    assert int(answers[2]["Retry-After"]) > 0
    assert answers[0]["X-RateLimit-Limit"] == "2"
    assert detail.status_code == 200


def test_the_similar_rate_limit_turns_off_with_0(owner_client, owner, settings):
    settings.RATE_LIMIT_SIMILAR_PER_MINUTE = 0
    settings.RATE_LIMIT_PER_MINUTE = 0
    memory = seed(owner, 2)[0]

    statuses = {owner_client.get(f"{URL}/{memory.pk}/similar").status_code for _ in range(40)}

    assert statuses == {200}


@pytest.mark.parametrize("window", [slice(0, 3), slice(2, 9), slice(0, 40), slice(38, 45)])
def test_a_ranking_slice_equals_the_same_slice_of_the_full_sort(window):
    rng = np.random.default_rng(7)
    scores = rng.choice([0.25, 0.5, 0.75, 1.0], size=40)
    ids = [f"{index:02}" for index in rng.permutation(40)]
    full = sorted(zip(scores.tolist(), ids, strict=True), key=lambda p: (-p[0], p[1]))

    assert Ranking(ids, scores)[window] == full[window]
    assert len(Ranking(ids, scores)) == 40
