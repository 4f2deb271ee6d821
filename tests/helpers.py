"""Helpers shared by the test modules: small datasets, vectors with cluster structure, the CLI runner."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from semid.cli import app
from semid.data.format import build_dataset

ASSETS = Path(__file__).parent / "assets"


def clustered(n: int, dim: int, n_clusters: int, seed: int = 0, spread: float = 0.05) -> np.ndarray:
    """Gaussian blobs around random unit centres: data with real cluster structure."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    labels = rng.integers(0, n_clusters, size=n)
    return (centres[labels] + spread * rng.normal(size=(n, dim))).astype(np.float32)


WORDS = [
    "apple",
    "river",
    "castle",
    "violin",
    "desert",
    "rocket",
    "garden",
    "winter",
    "tiger",
    "copper",
    "island",
    "candle",
    "forest",
    "marble",
    "thunder",
    "harbor",
    "meadow",
    "lantern",
    "glacier",
    "saddle",
]


runner = CliRunner()


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_new_items(folder: Path, vectors: np.ndarray, start: int = 0, text: str = "new item") -> list[dict]:
    """Items new<start>, new<start + 1>, ... in folder/new.jsonl and their vectors in folder/new.npy, the input
    of `semid assign`; the rows written."""
    rows = [{"item_id": f"new{start + k}", "text": text, "popularity": 0} for k in range(len(vectors))]
    write_jsonl(folder / "new.jsonl", rows)
    np.save(folder / "new.npy", vectors)
    return rows


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll `condition` every 10 ms until it holds; fail the test if it does not within `timeout` seconds."""
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.01)


def data_import(items, queries, out):
    """`semid data import` of an items and a queries file into `out`; the CliRunner result."""
    return runner.invoke(app, ["data", "import", "--items", str(items), "--queries", str(queries), "--out", str(out)])


def make_dataset(tmp_path, n=300):
    items = [{"item_id": f"i{k}", "text": f"item {k}", "popularity": int(1000 // (k + 1))} for k in range(n)]
    queries = [{"query_id": f"q{k}", "split": "train", "query": f"find {k}", "target": f"i{k}"} for k in range(n)]
    write_jsonl(tmp_path / "items.jsonl", items)
    write_jsonl(tmp_path / "queries.jsonl", queries)
    res = data_import(tmp_path / "items.jsonl", tmp_path / "queries.jsonl", tmp_path / "ds")
    assert res.exit_code == 0, res.output
    np.save(tmp_path / "vecs.npy", clustered(n, 8, 12))
    return tmp_path / "ds"


def tokenize(ds, out, sizes, *options):
    """`semid tokenize` on a dataset folder whose vectors lie beside it in vecs.npy; must succeed."""
    args = ["tokenize", str(ds), "--vectors", str(ds.parent / "vecs.npy"), "--codebook-sizes", sizes, *options]
    res = runner.invoke(app, [*args, "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


N_GROUPS, GROUP = 6, 10


def click_log(n_users: int = 300, seed: int = 0):
    """Items k in co-consumption group k // 10, but their content clusters by k % 6: what users consume together
    never reads alike. Item 'lonely' is in the catalogue and never in the log."""
    rng = np.random.default_rng(seed)
    n = N_GROUPS * GROUP
    ids = [f"i{k}" for k in range(n)] + ["lonely"]
    items = pd.DataFrame({"item_id": ids, "text": [f"item {x}" for x in ids], "popularity": 1})
    centres = rng.normal(size=(N_GROUPS, 16))
    content = np.vstack([centres[k % N_GROUPS] + 0.05 * rng.normal(size=16) for k in range(n + 1)])
    rows = []
    for u in range(n_users):
        group = rng.integers(N_GROUPS)
        seq = [f"i{group * GROUP + j}" for j in rng.permutation(GROUP)[:6]]
        for t in range(1, len(seq)):
            rows.append({"query_id": f"u{u}-{t}", "split": "train", "history": seq[:t], "target": seq[t]})
    rows.append({"query_id": "v", "split": "valid", "history": ["i0"], "target": "i1"})
    rows.append({"query_id": "t", "split": "test", "history": ["i0", "i1"], "target": "i2"})
    ds = build_dataset("clicks", items, pd.DataFrame(rows).assign(query=""), {})
    return ds, content.astype(np.float32)
