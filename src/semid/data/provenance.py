"""Which catalogue a dataset folder's ``item_vectors.npy`` was embedded from.

``semid embed`` records the items' identity (a hash of ids and texts, in order: vectors are matched to
items by position) in ``item_vectors.json``; ``semid tokenize`` refuses vectors whose record no longer
matches the folder's items, e.g. after ``semid data import`` wrote another catalogue into the folder.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from semid.errors import DataError

VECTORS_FILE = "item_vectors.npy"
VECTORS_INFO = "item_vectors.json"
ITEMS_FILE = "items.parquet"
IDENTITY_KEY = "items_sha256"


def items_identity(item_ids: Iterable[object], texts: Iterable[object]) -> str:
    """sha256 of the items' ids and texts, in order."""
    payload = json.dumps([[str(i) for i in item_ids], [str(t) for t in texts]], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


def folder_identity(data_dir: str | Path) -> str:
    """The identity of a dataset folder's items.parquet as it is now."""
    path = Path(data_dir) / ITEMS_FILE
    try:
        items = pd.read_parquet(path, columns=["item_id", "text"])
    except Exception as exc:  # missing, corrupt, or without those columns
        raise DataError(f"cannot read the item ids and texts ({exc})", source=str(path)) from None
    return items_identity(items["item_id"], items["text"])


def _read_info(data_dir: Path) -> dict[str, object]:
    path = data_dir / VECTORS_INFO
    if not path.exists():
        return {}
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"not readable ({exc}); run `semid embed {data_dir}` again", source=str(path)) from None
    if not isinstance(info, dict):
        raise DataError(f"not a JSON object; run `semid embed {data_dir}` again", source=str(path))
    return info


def vectors_model(data_dir: str | Path) -> str | None:
    """The text encoder (model folder) the folder's item vectors came from, when item_vectors.json says."""
    model = _read_info(Path(data_dir)).get("model")
    return str(model) if model is not None else None


def record_vectors_identity(data_dir: str | Path) -> None:
    """Write the identity of the folder's items into item_vectors.json, next to the vectors just embedded."""
    root = Path(data_dir)
    info = _read_info(root)
    info[IDENTITY_KEY] = folder_identity(root)
    (root / VECTORS_INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def vectors_match(data_dir: str | Path) -> bool | None:
    """Whether the folder's item_vectors.npy was embedded from its current items: True, False, or None
    when that cannot be told (no vectors, or vectors from before identities were recorded)."""
    root = Path(data_dir)
    if not (root / VECTORS_FILE).exists():
        return None
    recorded = _read_info(root).get(IDENTITY_KEY)
    if recorded is None:
        return None
    return recorded == folder_identity(root)


def adopt_unrecorded_vectors(data_dir: str | Path) -> None:
    """Before a folder's items are replaced: vectors embedded before identities were recorded are taken to
    belong to the items they sit next to, so that the replacement is seen (vectors_match turns False)."""
    root = Path(data_dir)
    if not ((root / VECTORS_FILE).exists() and (root / ITEMS_FILE).exists()):
        return
    try:
        if IDENTITY_KEY not in _read_info(root):
            record_vectors_identity(root)
    except DataError:  # unreadable old files: nothing to go by; load_vectors' row count is all that is left
        pass


def check_folder_vectors(data_dir: str | Path) -> None:
    """Raise DataError when the folder's item_vectors.npy belongs to another catalogue than its items."""
    root = Path(data_dir)
    if vectors_match(root) is False:
        raise DataError(
            f"these vectors were embedded from another catalogue than {root / ITEMS_FILE} (the items changed "
            f"since `semid embed`, e.g. by a new `semid data import`); run `semid embed {root}` again",
            source=str(root / VECTORS_FILE),
        )
