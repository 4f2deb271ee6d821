"""The bundled dataset a benchmark runs on, prepared and embedded under runs/ the first time."""

from __future__ import annotations

from pathlib import Path

from semid.data import prepare_dataset
from semid.pipeline import ITEM_VECTORS, embed_dataset


def embedded_dataset(name: str, runs: str | Path = "runs") -> Path:
    """runs/<name> with item_vectors.npy, made by `semid data prepare` + `semid embed` when missing."""
    data_dir = Path(runs) / name
    if not (data_dir / ITEM_VECTORS).exists():
        prepare_dataset(name, data_dir)
        embed_dataset(data_dir)
    return data_dir
