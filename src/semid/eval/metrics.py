"""Retrieval metrics as small pure functions (ranx style): one value per query, then a mean.

A run is, per query, a ranked list of item ids (ties already broken by the list order: semid lists the
items of one SID by popularity). Qrels are, per query, the set of relevant item ids; an empty set is an
error, since recall is undefined there. A relevant item retrieved twice counts once, at its first rank.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

KS = (1, 10, 100, 500, 1000, 2000)
# below this many test queries a recall moves by more than 0.03 per query: too few to read (the bench marks
# such a split, `semid data import` warns about such a test split)
FEW_TEST_QUERIES = 30


def _check(run: Sequence[Sequence[str]], qrels: Sequence[set[str]], k: int) -> None:
    if len(run) != len(qrels):
        raise ValueError(f"run has {len(run)} queries, qrels {len(qrels)}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    for i, rel in enumerate(qrels):
        if not rel:
            raise ValueError(f"query {i} has no relevant items: recall is undefined")


def first_hit_rank(ranked: Sequence[str], relevant: set[str], k: int) -> int:
    """1-based rank of the first relevant item within the top k, or 0."""
    for rank, item in enumerate(ranked[:k], start=1):
        if item in relevant:
            return rank
    return 0


def recall_at_k(run: Sequence[Sequence[str]], qrels: Sequence[set[str]], k: int) -> np.ndarray:
    """Per query: share of its relevant items found in the top k (duplicates counted once)."""
    _check(run, qrels, k)
    return np.array([len(set(r[:k]) & rel) / len(rel) for r, rel in zip(run, qrels, strict=True)])


def mrr_at_k(run: Sequence[Sequence[str]], qrels: Sequence[set[str]], k: int) -> np.ndarray:
    """Per query: 1 / rank of the first relevant item within the top k, else 0."""
    _check(run, qrels, k)
    ranks = np.array([first_hit_rank(r, rel, k) for r, rel in zip(run, qrels, strict=True)], dtype=np.float64)
    return np.where(ranks > 0, 1.0 / np.maximum(ranks, 1), 0.0)


def ndcg_at_k(run: Sequence[Sequence[str]], qrels: Sequence[set[str]], k: int) -> np.ndarray:
    """Per query: NDCG@k with binary gains (trec_eval's ndcg_cut): the sum of 1 / log2(rank + 1) over the
    relevant items in the top k (each once, at its first rank), divided by the same sum for the ideal list,
    which puts min(k, relevant) relevant items first. One relevant item: 1 / log2(rank + 1)."""
    _check(run, qrels, k)
    discounts = 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))
    out = np.empty(len(run), dtype=np.float64)
    for q, (ranked, rel) in enumerate(zip(run, qrels, strict=True)):
        seen: set[str] = set()
        hits = []
        for i, item in enumerate(ranked[:k]):
            if item in rel and item not in seen:
                seen.add(item)
                hits.append(i)
        out[q] = discounts[hits].sum() / discounts[: min(k, len(rel))].sum()
    return out


def items_retrieved(run: Sequence[Sequence[str]]) -> np.ndarray:
    """Per query: how many distinct items it retrieved (the per-query values behind Ret-Per)."""
    return np.array([len(set(r)) for r in run], dtype=np.int64)


def ret_per(run: Sequence[Sequence[str]]) -> float:
    """Ret-Per: mean number of distinct items retrieved per query.

    `run` holds everything a method retrieved for each query, not cut at K. A generative method's beam
    returns whole SIDs, so it retrieves every item behind every SID in its beam (the count the SA²CRQ paper
    reports, e.g. Ret-Per 914 at beam 128); a method that ranks the catalogue retrieves the list it was asked
    for. Items the evaluation leaves out (the bench's history items, see semid.eval.seen) are not counted.
    """
    if not run:
        raise ValueError("empty run")
    return float(items_retrieved(run).mean())


def hallucination_rate(n_generated: Sequence[int], n_hallucinated: Sequence[int]) -> float:
    """Hallu: share of all generated SIDs (unconstrained decoding) that match no item."""
    total = int(np.sum(n_generated))
    if total == 0:
        raise ValueError("no SIDs were generated")
    bad = int(np.sum(n_hallucinated))
    if bad < 0 or bad > total:
        raise ValueError(f"{bad} hallucinated of {total} generated is impossible")
    return bad / total


def retrieval_counts(
    retrieved: np.ndarray,
    groups: dict[str, np.ndarray] | None = None,
    generated: Sequence[int] | None = None,
    hallucinated: Sequence[int] | None = None,
) -> dict[str, dict[str, float]]:
    """Ret-Per from the per-query `retrieved` counts (`items_retrieved`) and, given unconstrained decoding's
    per-query SID counts, Hallu, overall and for each query mask in `groups`, keyed like `evaluate`'s result
    (a group without queries gets NaN)."""
    retrieved = np.asarray(retrieved)
    masks = {"all": np.ones(len(retrieved), dtype=bool), **(groups or {})}
    gen = None if generated is None else np.asarray(generated)
    bad = None if hallucinated is None else np.asarray(hallucinated)
    lengths = {len(c) for c in (gen, bad) if c is not None}
    if (gen is None) != (bad is None) or lengths - {len(retrieved)}:
        raise ValueError("generated and hallucinated need one count per query each, as retrieved has")
    out: dict[str, dict[str, float]] = {}
    for group, mask in masks.items():
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != retrieved.shape:
            raise ValueError(f"group {group!r} mask has shape {mask.shape}, expected {retrieved.shape}")
        out[group] = {"ret_per": float(retrieved[mask].mean()) if mask.any() else float("nan")}
        if gen is not None and bad is not None:
            some = gen[mask].sum() > 0  # a group of queries that generated nothing has no rate
            out[group]["hallucination"] = hallucination_rate(gen[mask], bad[mask]) if some else float("nan")
    return out


_METRIC = re.compile(r"^(recall|mrr|ndcg)@(\d+)$")
_BY_NAME = {"recall": recall_at_k, "mrr": mrr_at_k, "ndcg": ndcg_at_k}


def evaluate(
    qrels: Sequence[set[str]],
    run: Sequence[Sequence[str]],
    metrics: Sequence[str],
    groups: dict[str, np.ndarray] | None = None,
) -> dict[str, dict[str, float]]:
    """Mean of each metric ("recall@100", "mrr@10", "ndcg@10", ...) overall and for each boolean query mask in
    `groups` (e.g. head / tail / cold test targets): ``{"all": {...}, "head": {...}, ...}``."""
    per_query: dict[str, np.ndarray] = {}
    for name in metrics:
        m = _METRIC.match(name)
        if m is None:
            raise ValueError(f"unknown metric {name!r}; use recall@K, mrr@K or ndcg@K")
        per_query[name] = _BY_NAME[m.group(1)](run, qrels, int(m.group(2)))
    masks = {"all": np.ones(len(run), dtype=bool), **(groups or {})}
    out: dict[str, dict[str, float]] = {}
    for group, mask in masks.items():
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (len(run),):
            raise ValueError(f"group {group!r} mask has shape {mask.shape}, expected ({len(run)},)")
        out[group] = {name: float(v[mask].mean()) if mask.any() else float("nan") for name, v in per_query.items()}
        out[group]["n_queries"] = int(mask.sum())
    return out
