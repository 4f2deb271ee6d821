"""What a bench's data cannot support, said before the work (as warnings) and in the table (as marks).

Both read the data summary that results.json stores (`n_items`, `n_head_items`, `n_test` per split), so a
table rendered later from results.json carries the same marks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from semid.eval.bench.config import needs_head
from semid.eval.metrics import FEW_TEST_QUERIES

WHOLE_CATALOGUE, FEW = "†", "‡"  # the table's marks


def whole_catalogue(k: int, data: dict[str, Any]) -> bool:
    """Whether Recall@k is 1.0 by construction for a method that returns k items: k >= the catalogue size."""
    return k >= int(data["n_items"])


def too_few(split: str, data: dict[str, Any]) -> bool:
    """1..FEW_TEST_QUERIES-1 test queries (a split with none reads n/a instead)."""
    return 0 < data["n_test"].get(split, FEW_TEST_QUERIES) < FEW_TEST_QUERIES


def data_warnings(data: dict[str, Any], methods: Iterable[str], ks: Iterable[int]) -> list[str]:
    """One sentence per thing the bench's numbers cannot show on this data, for the methods asked for."""
    notes = []
    if data.get("n_head_items") == 0:
        head_methods = [m for m in methods if needs_head(m)]
        cannot = f"; {', '.join(head_methods)} cannot run (ACRQ fits its first codebooks on head items)"
        notes.append(
            f"no head items: every item's popularity is 0, so nothing separates head from tail"
            f"{cannot if head_methods else ''}. Give the items a 'popularity' (e.g. interactions per item) "
            "and import them again with `semid data import`"
        )
    for split, n in data["n_test"].items():
        if n == 0:
            notes.append(f"no {split} test queries: the {split} column stays empty")
        elif n < FEW_TEST_QUERIES:
            notes.append(
                f"only {n} {split} test queries (< {FEW_TEST_QUERIES}): one query moves the {split} column by "
                f"{1 / n:.2f}, too few to read; marked {FEW} in results.md"
            )
    whole = [k for k in ks if whole_catalogue(k, data)]
    if whole:
        notes.append(
            f"R@{', R@'.join(map(str, whole))}: K >= the catalogue's {int(data['n_items']):,} items, so a method "
            f"that returns K items finds every target (1.0 by construction); marked {WHOLE_CATALOGUE} in results.md"
        )
    return notes
