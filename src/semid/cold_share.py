"""How much of a result list goes to cold items by default, and the check of a requested share: torch-free, so
the CLI can name the default in its options without importing the retriever (semid.retrieve.cold does the rest)."""

from __future__ import annotations

__all__ = ["COLD_ORDERS", "DEFAULT_COLD_SHARE", "check_cold"]

COLD_ORDERS = ("prefix", "vector")
# The share `Retriever.search`, `semid retrieve` and `semid serve` keep for cold items unless told otherwise.
# Measured (benchmarks/results/cold_start_movielens.md, 3 seeds): 0.05 takes cold R@100 from 0 to 0.12 and leaves
# every top 19 as it was; 0.1 and 0.2 find more cold items (R@100 0.20, 0.23) but cost head R@10 (-0.008, -0.017).
DEFAULT_COLD_SHARE = 0.05


def check_cold(share: float, order: str | None = None) -> None:
    """ValueError for a cold share outside [0, 1] or an unknown cold order (None: the rank's own)."""
    if not 0.0 <= share <= 1.0:  # NaN fails it too
        raise ValueError(f"cold_share must be a number in [0, 1], got {share!r}")
    if order is not None and order not in COLD_ORDERS:
        raise ValueError(f"cold_order must be one of {', '.join(COLD_ORDERS)}, got {order!r}")
