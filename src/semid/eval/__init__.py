"""Evaluation: retrieval metrics as pure functions (`metrics`), the non-generative baselines, and the
`semid bench` package (`semid.eval.bench`)."""

from semid.eval.metrics import (
    KS,
    evaluate,
    hallucination_rate,
    items_retrieved,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
    ret_per,
    retrieval_counts,
)

__all__ = [
    "KS",
    "evaluate",
    "hallucination_rate",
    "items_retrieved",
    "mrr_at_k",
    "ndcg_at_k",
    "recall_at_k",
    "ret_per",
    "retrieval_counts",
]
