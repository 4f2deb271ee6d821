"""The one tokenizer interface, the variable-length code container, and save/load helpers.

Every tokenizer fits on item vectors, encodes vectors to variable-length codes (cold-start items
included: no refit), decodes codes back to vectors, and saves to a folder holding ``config.json``
plus ``tensors.safetensors``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from safetensors.numpy import load_file

from semid.errors import DataError, MissingResourceError
from semid.files import save_safetensors

CONFIG_FILE = "config.json"
TENSORS_FILE = "tensors.safetensors"
PAD = -1


@dataclass(frozen=True)
class Codes:
    """Variable-length codes of n items: ``codes[i, :lengths[i]]`` is item i's code, the rest is PAD (-1)."""

    codes: np.ndarray  # int32 [n, L]
    lengths: np.ndarray  # int32 [n], each in [1, L]

    def __post_init__(self) -> None:
        if self.codes.ndim != 2 or self.lengths.ndim != 1 or self.codes.shape[0] != self.lengths.shape[0]:
            raise ValueError(f"codes {self.codes.shape} and lengths {self.lengths.shape} do not match")

    @classmethod
    def full(cls, codes: np.ndarray) -> Codes:
        """Fixed-length codes: every item uses all L layers."""
        codes = np.ascontiguousarray(codes, dtype=np.int32)
        return cls(codes, np.full(codes.shape[0], codes.shape[1], dtype=np.int32))

    @classmethod
    def from_lists(cls, rows: list[list[int]] | list[tuple[int, ...]], n_layers: int | None = None) -> Codes:
        depth = n_layers if n_layers is not None else max((len(r) for r in rows), default=1)
        codes = np.full((len(rows), depth), PAD, dtype=np.int32)
        lengths = np.zeros(len(rows), dtype=np.int32)
        for i, r in enumerate(rows):
            codes[i, : len(r)] = r
            lengths[i] = len(r)
        return cls(codes, lengths)

    @property
    def n_items(self) -> int:
        return int(self.codes.shape[0])

    @property
    def n_layers(self) -> int:
        return int(self.codes.shape[1])

    def to_lists(self) -> list[tuple[int, ...]]:
        return [tuple(int(c) for c in row[:n]) for row, n in zip(self.codes, self.lengths, strict=True)]

    def validate(self, codebook_sizes: list[int] | None = None) -> None:
        """Raise DataError unless lengths are in [1, L], codes are set before and PAD after each length."""
        L = self.n_layers
        if self.n_items and (self.lengths.min() < 1 or self.lengths.max() > L):
            bad = int(np.flatnonzero((self.lengths < 1) | (self.lengths > L))[0])
            raise DataError(f"length {self.lengths[bad]} outside [1, {L}]", source="codes", line=bad, unit="item")
        used = np.arange(L)[None, :] < self.lengths[:, None]
        if (self.codes[used] < 0).any() or (self.codes[~used] != PAD).any():
            raise DataError("codes must be >= 0 within each length and -1 after it", source="codes")
        if codebook_sizes is not None:
            for layer, size in enumerate(codebook_sizes[:L]):
                col = self.codes[:, layer]
                if (col[used[:, layer]] >= size).any():
                    raise DataError(f"layer {layer} has a code >= codebook size {size}", source="codes")


def code_keys(codes: np.ndarray) -> np.ndarray:
    """Byte strings that sort codes in trie order (end of code before any token): PAD -> 0, c -> c + 1,
    big-endian, so equal keys mean equal codes and a code sorts right before the codes it prefixes."""
    shifted = (codes.astype(np.int64) + 1).astype(">u4")
    return np.ascontiguousarray(shifted).view(f"S{4 * codes.shape[1]}").ravel()


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
    """TIGER's collision fix: append to each fixed-length code its rank among the items sharing it
    (after the items of `existing`, which already carry theirs). Returns the codes and the dedup size."""
    if (codes.lengths != codes.n_layers).any():
        raise DataError("the dedup token applies to fixed-length codes only", source="codes")
    keys = code_keys(codes.codes)
    offset = np.zeros(codes.n_items, dtype=np.int64)
    size = 1
    if existing is not None and existing.n_items:
        old_keys, old_counts = np.unique(code_keys(existing.codes[:, :-1]), return_counts=True)
        pos = np.minimum(np.searchsorted(old_keys, keys), max(old_keys.size - 1, 0))
        offset = np.where(old_keys[pos] == keys, old_counts[pos], 0)
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
