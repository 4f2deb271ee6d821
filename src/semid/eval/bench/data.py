"""The bench's data: one dataset, its vectors, the cold items held out, and the test records every method
answers (with their head / tail / cold masks)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from semid.eval.metrics import KS
from semid.eval.seen import drop_seen, repeats_consumption

if TYPE_CHECKING:
    import pandas as pd

    from semid.data.format import Dataset
    from semid.eval.bench.config import BenchConfig


@dataclass
class BenchData:
    ds: Dataset  # the (possibly subset) dataset, every item
    vectors: np.ndarray
    warm: Dataset  # the dataset without cold items (what methods fit and train on)
    warm_vectors: np.ndarray
    cold_items: list[str]
    test: pd.DataFrame  # evaluated test records
    groups: dict[str, np.ndarray]  # head / tail / cold masks over `test`
    input_kind: str
    exclude_seen: bool = False  # history items left out of every method's ranking (see semid.eval.seen)
    vectors_model: str | None = None  # the text encoder the item vectors came from (item_vectors.json)
    # what the generative methods' tokenizers and retrievers read: `vectors` (content), or with --collaborative
    # content joined to collaborative vectors fitted on the warm training records (semid.embed.collaborative)
    joined: tuple[np.ndarray, np.ndarray] | None = None  # (every item, warm items) with --collaborative

    @property
    def collaborative(self) -> bool:
        return self.joined is not None

    @property
    def sid_vectors(self) -> np.ndarray:
        return self.vectors if self.joined is None else self.joined[0]

    @property
    def warm_sid_vectors(self) -> np.ndarray:
        return self.warm_vectors if self.joined is None else self.joined[1]

    def drop_seen(self, run: list[list[str]], rows: slice = slice(None)) -> list[list[str]]:
        """Each list without its query's history items where the bench leaves them out, not cut; `rows`: the
        test records that `run` answers."""
        if not self.exclude_seen:
            return [list(r) for r in run]
        longest = max((len(r) for r in run), default=0)
        return drop_seen(run, self.test["history"].iloc[rows].tolist(), longest)

    def finish(self, run: list[list[str]], rows: slice = slice(None)) -> list[list[str]]:
        """Every method's ranked lists (fetched ``extra()`` items deep) go through this one rule: history
        items out (`drop_seen`), then the top max(KS) kept."""
        return [r[: max(KS)] for r in self.drop_seen(run, rows)]

    def extra(self) -> int:
        return int(self.test["history"].map(len).max()) if self.exclude_seen else 0

    def qrels(self) -> list[set[str]]:
        return [{t} for t in self.test["target"]]

    def query_texts(self, last: int = 5) -> list[str]:
        """Text of each test record: the query, or for history datasets the texts of the last items."""
        if self.input_kind == "text":
            return self.test["query"].tolist()
        text = dict(zip(self.ds.items["item_id"], self.ds.items["text"], strict=True))
        return ["; ".join(text[x] for x in h[-last:]) for h in self.test["history"]]


def _subset(ds: Dataset, vectors: np.ndarray, keep: np.ndarray) -> tuple[Dataset, np.ndarray]:
    import pandas as pd

    from semid.data.format import Dataset, validate_queries

    items = ds.items[keep].reset_index(drop=True)
    known = set(items["item_id"])
    q = ds.queries[ds.queries["target"].isin(known)].copy()
    q["history"] = q["history"].map(lambda h: [x for x in h if x in known])
    if (ds.queries["history"].map(len) > 0).any():  # history datasets: a record needs some history left
        q = q[q["history"].map(len) > 0]
    q = validate_queries(q.reset_index(drop=True), pd.Index(items["item_id"]), source=f"{ds.name} subset")
    return Dataset(ds.name, items, q, dict(ds.meta)), vectors[keep]


def prepare_bench_data(cfg: BenchConfig, out: Path) -> BenchData:
    import pandas as pd

    from semid.data import load_dataset, prepare_dataset
    from semid.eval.bench.config import dataset_folder
    from semid.pipeline import ITEM_VECTORS, dataset_vectors, embed_dataset
    from semid.retrieve.build import input_kind

    data_dir = dataset_folder(cfg.dataset) or out / "data"
    if not (data_dir / ITEM_VECTORS).exists():  # a bundled dataset, prepared and embedded on the first run
        prepare_dataset(cfg.dataset, data_dir)
        embed_dataset(data_dir)
    ds = load_dataset(data_dir)
    vectors = dataset_vectors(ds, data_dir)
    rng = np.random.default_rng(12345)  # the data split is the same for every seed
    if cfg.max_items is not None and cfg.max_items < ds.n_items:
        keep = np.zeros(ds.n_items, dtype=bool)
        keep[rng.choice(ds.n_items, cfg.max_items, replace=False)] = True
        ds, vectors = _subset(ds, vectors, keep)
    kind = input_kind(ds)

    train_valid = ds.queries[ds.queries["split"] != "test"]
    mentioned = set(train_valid["target"]) | {x for h in train_valid["history"] for x in h}
    test = ds.split("test")
    eligible = sorted(set(test["target"]) - mentioned)
    n_cold = round(cfg.cold_fraction * test["target"].nunique())
    cold = sorted(rng.choice(eligible, min(n_cold, len(eligible)), replace=False).tolist()) if eligible else []
    cold_set = set(cold)
    test = test[~test["history"].map(lambda h: any(x in cold_set for x in h))].reset_index(drop=True)
    is_cold = test["target"].isin(cold_set).to_numpy()
    warm_rows = np.flatnonzero(~is_cold)
    if len(warm_rows) > cfg.max_test_queries:
        warm_rows = np.sort(rng.choice(warm_rows, cfg.max_test_queries, replace=False))
    test = test.iloc[np.sort(np.concatenate([warm_rows, np.flatnonzero(is_cold)]))].reset_index(drop=True)

    warm_items = ~ds.items["item_id"].isin(cold_set).to_numpy()
    warm, warm_vectors = _subset(ds, vectors, warm_items)
    train = warm.split("train")
    if cfg.max_train_records is not None and len(train) > cfg.max_train_records:
        train = train.iloc[np.sort(rng.choice(len(train), cfg.max_train_records, replace=False))]
    warm.queries = pd.concat([train, warm.split("valid")], ignore_index=True)

    head = dict(zip(ds.items["item_id"], ds.items["is_head"], strict=True))
    cold_mask = test["target"].isin(cold_set).to_numpy()
    head_mask = np.array([bool(head[t]) for t in test["target"]]) & ~cold_mask
    groups = {"head": head_mask, "tail": ~head_mask & ~cold_mask, "cold": cold_mask}
    exclude = kind == "history" and not repeats_consumption(train["history"].tolist(), train["target"].tolist())
    from semid.data.provenance import vectors_model

    model = vectors_model(data_dir)
    data = BenchData(ds, vectors, warm, warm_vectors, cold, test, groups, kind, exclude, model)
    if cfg.collaborative:
        _join_collaborative(data)
    return data


def _join_collaborative(data: BenchData) -> None:
    """Collaborative vectors from the warm training records only: cold items (never in the log) and items the
    log says too little about get theirs from their content, as a user's later items would."""
    from semid.embed.collaborative import CollaborativeVectors
    from semid.errors import DataError

    if data.input_kind != "history":
        raise DataError("--collaborative needs a click log (history records); this dataset has text queries")
    fitted = CollaborativeVectors.fit(data.warm, data.warm_vectors)
    every = fitted.vectors(data.ds.items["item_id"].tolist(), data.vectors)
    data.joined = (every, fitted.vectors(data.warm.items["item_id"].tolist(), data.warm_vectors))
