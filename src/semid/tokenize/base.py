"""The one tokenizer interface, its save/load helpers, and TIGER's dedup token.

Every tokenizer fits on item vectors, encodes vectors to variable-length codes (cold-start items
included: no refit), decodes codes back to vectors, and saves to a folder holding ``config.json``
plus ``tensors.safetensors``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from safetensors.numpy import load_file

from semid.codes import Codes, code_keys, find_sorted
from semid.errors import DataError, MissingResourceError
from semid.files import save_safetensors

CONFIG_FILE = "config.json"
TENSORS_FILE = "tensors.safetensors"


@runtime_checkable
class Tokenizer(Protocol):
    """What every SID tokenizer provides."""

    @property
    def method(self) -> str: ...

    @property
    def codebook_sizes(self) -> list[int]: ...

    def fit(self, vectors: np.ndarray, *, is_head: np.ndarray | None = None) -> Tokenizer: ...

    def encode(self, vectors: np.ndarray, *, is_head: np.ndarray | None = None) -> Codes: ...

    def decode(self, codes: Codes) -> np.ndarray: ...

    def save(self, path: str | Path) -> Path: ...


def write_folder(path: str | Path, method: str, config: Any, tensors: dict[str, np.ndarray], **extra: Any) -> Path:
    """Write ``config.json`` (method, dataclass config, extras) and ``tensors.safetensors``."""
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    payload = {"method": method, "config": asdict(config), **extra}
    save_safetensors(tensors, out / TENSORS_FILE)  # 0666 & ~umask, like the JSON next to it
    (out / CONFIG_FILE).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return out


def read_folder(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    root = Path(path)
    for fname in (CONFIG_FILE, TENSORS_FILE):
        if not (root / fname).exists():
            raise MissingResourceError(f"{root / fname}: missing; is {root} a tokenizer saved by semid?")
    try:
        payload = json.loads((root / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: bad JSON or bad UTF-8
        raise DataError(f"not a readable tokenizer config ({exc})", source=str(root / CONFIG_FILE)) from None
    if not isinstance(payload, dict):
        raise DataError("not a tokenizer config (a JSON object is expected)", source=str(root / CONFIG_FILE))
    try:
        tensors = load_file(str(root / TENSORS_FILE))
    except Exception as exc:  # SafetensorError (empty, truncated, corrupted) or OSError
        raise DataError(f"not a readable safetensors file ({exc})", source=str(root / TENSORS_FILE)) from None
    return payload, tensors


def append_dedup_token(codes: Codes, existing: Codes | None = None) -> tuple[Codes, int]:
    """The collision fix of "Recommender Systems with Generative Retrieval" (TIGER, arXiv:2305.05065):
    append to each fixed-length code its rank among the items sharing it
    (after the items of `existing`, which already carry theirs). Returns the codes and the dedup size."""
    if (codes.lengths != codes.n_layers).any():
        raise DataError("the dedup token applies to fixed-length codes only", source="codes")
    keys = code_keys(codes.codes)
    offset = np.zeros(codes.n_items, dtype=np.int64)
    size = 1
    if existing is not None and existing.n_items:
        old_keys, old_counts = np.unique(code_keys(existing.codes[:, :-1]), return_counts=True)
        pos, found = find_sorted(old_keys, keys)
        offset = np.where(found, old_counts[pos], 0)
        size = int(existing.codes[:, -1].max()) + 1
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    start = np.ones(codes.n_items, dtype=bool)
    start[1:] = sorted_keys[1:] != sorted_keys[:-1]
    group_start = np.maximum.accumulate(np.where(start, np.arange(codes.n_items), 0))
    rank = np.empty(codes.n_items, dtype=np.int64)
    rank[order] = np.arange(codes.n_items) - group_start
    token = (rank + offset).astype(np.int32)
    size = max(size, int(token.max()) + 1 if token.size else 1)
    out = np.hstack([codes.codes, token[:, None]])
    return Codes(out, codes.lengths + 1), size
