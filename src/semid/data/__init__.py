"""Datasets: the on-disk format, the bundled real datasets, and the head/tail split."""

from semid.data.format import Dataset, build_dataset, load_dataset, read_items, read_queries, save_dataset
from semid.data.headtail import head_tail_split
from semid.data.prepare import DATASETS, prepare_dataset

__all__ = [
    "DATASETS",
    "Dataset",
    "build_dataset",
    "head_tail_split",
    "load_dataset",
    "prepare_dataset",
    "read_items",
    "read_queries",
    "save_dataset",
]
