"""The hashing embedder, and similarity ranking on a small fixed set."""

import math

import pytest

from apps.memories.embeddings import HashingEmbedder, cosine, get_embedder, pack, unpack


def test_embeddings_are_deterministic_normalised_and_sized():
    embedder = HashingEmbedder(dimensions=512)
    first = embedder.embed("My cat sleeps on the warm laptop")
    assert first == HashingEmbedder(dimensions=512).embed("My cat sleeps on the warm laptop")
    assert len(first) == 512
    assert math.isclose(math.sqrt(sum(x * x for x in first)), 1.0, rel_tol=1e-9)


def test_case_and_punctuation_do_not_matter():
    embedder = HashingEmbedder()
    assert embedder.embed("Cats, DOGS!") == embedder.embed("cats dogs")


def test_empty_text_is_the_zero_vector():
    assert not any(HashingEmbedder().embed("   ... "))


def test_shared_words_score_higher_than_unrelated_text():
    embedder = get_embedder()
    cat = embedder.embed("my cat loves tuna")
    assert cosine(cat, embedder.embed("the cat wants more tuna")) > cosine(
        cat, embedder.embed("quarterly tax return deadline")
    )


def test_pack_round_trips_as_float32():
    vector = HashingEmbedder().embed("round trip")
    assert unpack(pack(vector)).tolist() == pytest.approx(vector, abs=1e-6)
