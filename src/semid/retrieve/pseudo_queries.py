"""Pseudo-queries for the indexing pairs: random spans of an item's own text, each trained to generate the
item's SID beside its full text, as the "Document As Query" augmentation of "A Neural Corpus Indexer for
Document Retrieval" (NCI, arXiv:2206.02743; there spans of 64 tokens of long documents). Catalogue texts
are short, so a span here is a random run of about half the item's words (at least 2, or the whole text
when it is shorter): a query rarely repeats an item's text whole.
"""

from __future__ import annotations

import numpy as np


def pseudo_queries(texts: list[str], per_item: int, seed: int) -> tuple[list[str], np.ndarray]:
    """`per_item` spans of each text (seeded), and the index of the text each came from."""
    if per_item < 0:
        raise ValueError(f"pseudo-queries per item must be >= 0, got {per_item}")
    if per_item == 0:  # the default: no pass over the catalogue's texts
        return [], np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    spans: list[str] = []
    source: list[int] = []
    for i, text in enumerate(texts):
        words = text.split()
        if not words:
            continue
        size = min(len(words), max(2, len(words) // 2))
        for start in rng.integers(0, len(words) - size + 1, size=per_item):
            spans.append(" ".join(words[start : start + size]))
            source.append(i)
    return spans, np.asarray(source, dtype=np.int64)
