"""The few statistics the benchmark reports."""

import math
import statistics
from typing import Any


def percentile(values: list[float], pct: float) -> float:
    """Nearest rank: the smallest value with at least pct% of the values at or below it."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def median_of(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Each numeric figure's median over the rounds; the rounds themselves kept beside."""
    keys = [key for key, value in rounds[0].items() if isinstance(value, int | float)]
    merged: dict[str, Any] = {
        key: round(statistics.median(r[key] for r in rounds), 3) for key in keys
    }
    merged["rounds"] = rounds
    return merged
