from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import WORDS, clustered, data_import, tokenize, write_jsonl

N_ITEMS = 120


@pytest.fixture(scope="session")
def catalogue(tmp_path_factory):
    """120 items with adaptive (variable-length) SARQ SIDs; query records of every kind in every split:
    (root, dataset folder, tokenize folder, counts of records per split)."""
    root = tmp_path_factory.mktemp("export")
    items = [
        {"item_id": f"i{k}", "text": f"{WORDS[k % 20]} {k}", "popularity": int(3000 // (k + 1))} for k in range(N_ITEMS)
    ]
    rng = np.random.default_rng(0)
    queries = []
    for k in range(150):
        split = "train" if k < 120 else ("valid" if k < 135 else "test")
        history = [f"i{j}" for j in rng.integers(0, N_ITEMS, size=int(rng.integers(1, 30)))]
        kind = k % 3  # text only, history only, both
        queries.append(
            {
                "query_id": f"q{k}",
                "split": split,
                "query": f"find {WORDS[k % 20]}" if kind != 1 else "",
                "history": history if kind != 0 else [],
                "target": f"i{k % N_ITEMS}",
            }
        )
    res = data_import(
        write_jsonl(root / "items.jsonl", items), write_jsonl(root / "queries.jsonl", queries), root / "ds"
    )
    assert res.exit_code == 0, res.output
    np.save(root / "vecs.npy", clustered(N_ITEMS, 8, 10, spread=0.3))
    tokenize(root / "ds", root / "tok", "8,8,8", "--method", "sarq", "--min-items", "6")
    counts = {"train": 120, "valid": 15, "test": 15}
    return root, root / "ds", root / "tok", counts
