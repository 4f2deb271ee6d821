"""`semid data prepare NAME`: build a bundled dataset into the on-disk format."""

from __future__ import annotations

from pathlib import Path

from semid.data.format import Dataset, build_dataset, save_dataset
from semid.data.headtail import DEFAULT_HEAD_COVERAGE
from semid.data.movielens import load_raw_movielens, movielens_items_and_queries
from semid.data.wordnet import DEFAULT_WORDNET_DIR, wordnet_items_and_queries

DATASETS = ("movielens", "wordnet")


def prepare_dataset(
    name: str,
    out_dir: str | Path,
    *,
    head_coverage: float = DEFAULT_HEAD_COVERAGE,
    wordnet_dir: str | Path = DEFAULT_WORDNET_DIR,
) -> Dataset:
    if name == "movielens":
        items, queries, meta = movielens_items_and_queries(load_raw_movielens())
    elif name == "wordnet":
        items, queries, meta = wordnet_items_and_queries(Path(wordnet_dir))
    else:
        raise ValueError(f"unknown dataset {name!r}; bundled datasets are {', '.join(DATASETS)}")
    ds = build_dataset(name, items, queries, meta, head_coverage=head_coverage)
    save_dataset(ds, out_dir)
    return ds
