"""Items a user already has: one rule, applied to every method's ranking in the bench.

Where no training record's target is already in its history (no repeat consumption, as in MovieLens: one
rating per user and movie), recommending a history item can never be right, and a sequential recommender
such as SASRec leaves them out. The bench then leaves them out of every method's list, so the comparison
measures ranking, not which method happens to filter. With repeat consumption in the data, nothing is left
out.
"""

from __future__ import annotations

from collections.abc import Sequence


def repeats_consumption(histories: Sequence[Sequence[str]], targets: Sequence[str]) -> bool:
    """True when some record's target is already in its history."""
    return any(t in set(h) for h, t in zip(histories, targets, strict=True))


def drop_seen(run: Sequence[Sequence[str]], histories: Sequence[Sequence[str]], k: int) -> list[list[str]]:
    """Each ranked list without its query's history items, cut to ``k``."""
    out = []
    for ranked, hist in zip(run, histories, strict=True):
        seen = set(hist)
        out.append([x for x in ranked if x not in seen][:k])
    return out
