"""Text embeddings behind one small interface, so a neural model can replace the default.

The default is signed feature hashing of normalised word unigrams and bigrams: deterministic,
instant, no model download, and good enough to rank memories that share words (and word pairs)
above memories that do not. Vectors are L2-normalised, so cosine similarity is a dot product.
"""

import functools
import hashlib
import math
import re
import unicodedata
from array import array
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from django.conf import settings
from django.utils.module_loading import import_string

_WORD = re.compile(r"\w+", re.UNICODE)
# Words so common they say nothing about what a memory is about.
_STOP_WORDS = frozenset(
    "a an and are as at be but by for from has have he her his i in is it its my of on or our "
    "she that the their them they this to was we were will with you your me".split()
)


class Embedder(Protocol):
    dimensions: int

    def embed(self, text: str) -> list[float]: ...


class HashingEmbedder:
    """Signed feature hashing (the "hashing trick") over unigrams and bigrams."""

    def __init__(self, dimensions: int = 512, bigram_weight: float = 0.5) -> None:
        self.dimensions = dimensions
        self.bigram_weight = bigram_weight

    @staticmethod
    def tokens(text: str) -> list[str]:
        normalised = unicodedata.normalize("NFKC", text).casefold()
        return [word for word in _WORD.findall(normalised) if word not in _STOP_WORDS]

    def _add(self, vector: list[float], feature: str, weight: float) -> None:
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        index = value % self.dimensions
        sign = 1.0 if (value >> 63) & 1 else -1.0
        vector[index] += sign * weight

    def embed(self, text: str) -> list[float]:
        vector = [0.0] * self.dimensions
        words = self.tokens(text)
        for word in words:
            self._add(vector, word, 1.0)
        for first, second in zip(words, words[1:], strict=False):
            self._add(vector, f"{first} {second}", self.bigram_weight)
        norm = math.hypot(*vector)
        return [x / norm for x in vector] if norm else vector


@functools.cache
def get_embedder() -> Embedder:
    """The embedder named by `EMBEDDING_BACKEND`, built once per process."""
    return import_string(settings.EMBEDDING_BACKEND)()


def pack(vector: Sequence[float]) -> bytes:
    """float32 bytes: a 512-dimension vector is 2 KiB in the database."""
    return array("f", vector).tobytes()


def unpack(data: bytes) -> array:
    vector = array("f")
    vector.frombytes(data)
    return vector


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two L2-normalised vectors."""
    return sum(x * y for x, y in zip(a, b, strict=True))


def cosines(target: bytes, candidates: Sequence[bytes]) -> np.ndarray:
    """`cosine` of `target` with each candidate, all packed, as one float64 array.

    One pass over a float32 matrix in C. The products are exact in float64, as in `cosine`,
    and einsum sums each row the same way wherever it lies (a BLAS matrix product does not:
    two equal vectors could get scores a last bit apart, and ties would not be ties)."""
    size = len(target) // 4
    matrix = np.frombuffer(b"".join(candidates), dtype=np.float32).reshape(len(candidates), size)
    vector = np.frombuffer(target, dtype=np.float32)
    return np.einsum("ij,j->i", matrix, vector, dtype=np.float64)


class Ranking(Sequence):
    """`(score, id)` pairs, best score first and ties by id, as a sequence a paginator can
    count and slice. A slice sorts only the candidates that can reach it, not the whole list:
    a page of 5 out of 10,000 is a partition, not a sort."""

    def __init__(self, ids: Sequence[Any], scores: np.ndarray) -> None:
        self.ids = ids
        self.scores = scores

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: Any) -> Any:
        if not isinstance(index, slice):
            return self[index : index + 1][0] if index >= 0 else self[len(self) + index]
        start, stop, step = index.indices(len(self))
        best = self._best(stop)
        return [(float(self.scores[i]), self.ids[i]) for i in best[start:stop:step]]

    def _best(self, count: int) -> list[int]:
        """Indices of the `count` best pairs, in order (every pair tied with the last too)."""
        total = len(self)
        if count <= 0:
            return []
        if count < total:
            threshold = np.partition(self.scores, total - count)[total - count]
            chosen = np.flatnonzero(self.scores >= threshold).tolist()
        else:
            chosen = list(range(total))
        scores = self.scores.tolist()
        return sorted(chosen, key=lambda i: (-scores[i], str(self.ids[i])))
