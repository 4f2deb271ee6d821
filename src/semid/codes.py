"""Variable-length codes and the sorted-key lookup: the vocabulary every other package speaks.

``Codes`` is what a tokenizer returns and what the SID table, the trie and the retriever read.
``code_keys`` turns codes into byte strings that sort in trie order, and ``find_sorted`` is the one
binary-search lookup (searchsorted, clamp, compare) used on such keys, on prefix counts, id hashes and
the trie's edge keys, in numpy or in torch. Nothing here imports another semid package but its errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from semid.errors import DataError

if TYPE_CHECKING:
    import torch

PAD = -1

Keys = TypeVar("Keys", np.ndarray, "torch.Tensor")


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
        return [tuple(row[:n]) for row, n in zip(self.codes.tolist(), self.lengths.tolist(), strict=True)]

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


def find_sorted(sorted_keys: Keys, queries: Keys) -> tuple[Keys, Keys]:
    """Where each query stands in `sorted_keys` (1-D, ascending) and whether it is there.

    Returns ``(pos, found)`` shaped like `queries`: ``pos`` is the binary-search position clamped into
    range (0 for an empty `sorted_keys`), ``found`` whether ``sorted_keys[pos] == query``. Both numpy
    arrays or both torch tensors (on one device: the trie's edge lookup in beam search).
    """
    n = int(sorted_keys.shape[0])
    if isinstance(sorted_keys, np.ndarray):
        pos = np.searchsorted(sorted_keys, queries)
    else:
        import torch  # only reached with tensors, so torch is loaded already

        pos = torch.searchsorted(sorted_keys, queries)
    if n == 0:
        return pos, pos < 0
    pos = pos.clip(max=n - 1)
    return pos, sorted_keys[pos] == queries
