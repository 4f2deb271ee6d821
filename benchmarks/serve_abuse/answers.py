"""The in-process answers the server's answers are compared with."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SCORE_TOL = 1e-4


@dataclass
class Expected:
    """The in-process answer to every (query index, k): Retriever.search over the whole list (its default
    batching), and each query searched alone (batch of one), to tell which one a differing answer matches."""

    batched: dict[tuple[int, int], tuple[list[str], list[float]]]
    alone: dict[tuple[int, int], tuple[list[str], list[float]]]
    batched_vs_alone_differ: int  # (query, k) pairs whose two in-process answers differ
    seconds: float


def expected_answers(artifact: Path, key: str, inputs: list[Any], ks: list[int], beam: int) -> Expected:
    from semid.retrieve.retriever import Retriever

    t0 = time.perf_counter()
    ret = Retriever.load(artifact)

    def search(k: int, batch_size: int) -> list[Any]:
        if key == "history":
            return ret.search(histories=inputs, k=k, beam=beam, batch_size=batch_size)
        return ret.search(inputs, k=k, beam=beam, batch_size=batch_size)

    batched: dict[tuple[int, int], tuple[list[str], list[float]]] = {}
    alone: dict[tuple[int, int], tuple[list[str], list[float]]] = {}
    for k in ks:
        for i, r in enumerate(search(k, 64)):
            batched[i, k] = (r.item_ids, r.scores)
    # alone: one search per query at the largest k; a smaller k is its prefix (Retriever.expand adds items
    # SID by SID in score order and stops at k, which is also how the server answers a batch of mixed k)
    k_max = max(ks)
    for i, r in enumerate(search(k_max, 1)):
        for k in ks:
            alone[i, k] = (r.item_ids[:k], r.scores[:k])
    differ = sum(not same(batched[key_], alone[key_]) for key_ in batched)
    return Expected(batched, alone, differ, time.perf_counter() - t0)


def same(a: tuple[list[str], list[float]], b: tuple[list[str], list[float]]) -> bool:
    ids_a, sc_a = a
    ids_b, sc_b = b
    if ids_a != ids_b or len(sc_a) != len(sc_b):
        return False
    return bool(np.allclose(sc_a, sc_b, rtol=0, atol=SCORE_TOL))
