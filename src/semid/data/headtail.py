"""Head/tail split of a catalogue by popularity."""

from __future__ import annotations

import numpy as np

DEFAULT_HEAD_COVERAGE = 0.8


def head_tail_split(popularity: np.ndarray, coverage: float = DEFAULT_HEAD_COVERAGE) -> np.ndarray:
    """Boolean head mask: the most popular items that together cover `coverage` of all interactions.

    Items are taken in order of decreasing popularity (ties by position) until their summed popularity
    reaches `coverage` of the total. Items with popularity 0 are never head; with no interactions at all,
    every item is tail.
    """
    if not 0.0 < coverage <= 1.0:
        raise ValueError(f"head coverage must be in (0, 1], got {coverage}")
    pop = np.asarray(popularity, dtype=np.float64)
    if pop.ndim != 1:
        raise ValueError(f"popularity must be 1-D, got shape {pop.shape}")
    if np.any(pop < 0) or not np.all(np.isfinite(pop)):
        raise ValueError("popularity must be finite and >= 0")
    head = np.zeros(pop.shape[0], dtype=bool)
    total = pop.sum()
    if total == 0:
        return head
    order = np.argsort(-pop, kind="stable")
    cum = np.cumsum(pop[order])
    n_head = int(np.searchsorted(cum, coverage * total - 1e-9 * total, side="left")) + 1
    head[order[:n_head]] = True
    head &= pop > 0
    return head
