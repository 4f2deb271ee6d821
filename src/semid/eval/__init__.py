"""Evaluation: retrieval metrics as pure functions (the harness comes with issue 5)."""

from semid.eval.metrics import KS, evaluate, hallucination_rate, mrr_at_k, recall_at_k, ret_per

__all__ = ["KS", "evaluate", "hallucination_rate", "mrr_at_k", "recall_at_k", "ret_per"]
