"""SARQ's prefix-probability tables and depth rule: Sec. 2.1 of "Towards Efficient and Generalizable
Retrieval: Adaptive Semantic Quantization and Residual Knowledge Transfer" (arXiv:2602.23978).

Path entropy of a prefix is ``I(c_1..c_{l-1}) = -log P(c_1..c_{l-1})`` with P the share of training items
whose code starts with that prefix. An item continues to layer l >= 2 only while ``P(prefix) > tau``
(equivalently ``I <= -log tau``); a prefix never seen in training has P = 0 and stops. Since the decision
depends on the prefix alone, every item under one prefix gets the same depth.

``tau`` can also be given as ``min_items``: continue only where at least that many training items share
the prefix (``tau = (min_items - 0.5) / n_train``, so that ``count > tau * n_train`` iff ``count >= min_items``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from semid.codes import PAD, Codes, code_keys, find_sorted

DEFAULT_MIN_ITEMS = 8


def depth_budget(tau: float | None, min_items: int | None) -> tuple[float | None, int | None]:
    """A config's SARQ budget: the one the user gave, else ``min_items = 8``; both given is an error."""
    if tau is not None and min_items is not None:
        raise ValueError(f"give one depth budget, not both: tau={tau} and min_items={min_items}")
    return (tau, None) if tau is not None else (None, DEFAULT_MIN_ITEMS if min_items is None else min_items)


def resolve_tau(tau: float | None, min_items: int | None, n_train: int) -> float:
    if (tau is None) == (min_items is None):
        raise ValueError("give exactly one of tau (a probability budget) or min_items (items under a prefix)")
    if min_items is not None:
        if min_items < 1:
            raise ValueError(f"min_items must be >= 1, got {min_items}")
        return (min_items - 0.5) / n_train
    assert tau is not None
    if not 0.0 <= tau < 1.0:
        raise ValueError(f"tau must be in [0, 1), got {tau}")
    return float(tau)


@dataclass
class PrefixTables:
    """Counts of training items under every prefix of length 1..L-1 (the {P_l} saved with the model)."""

    keys: list[np.ndarray]  # per prefix length l = 1..L-1: sorted byte keys of the prefixes seen
    counts: list[np.ndarray]  # matching item counts (int64)
    n_train: int

    @classmethod
    def from_codes(cls, codes: Codes) -> PrefixTables:
        """Tables over the items' (possibly variable-length) codes; a prefix counts items that reach it."""
        keys, counts = [], []
        for length in range(1, codes.n_layers):
            has = codes.lengths >= length
            k, c = np.unique(code_keys(codes.codes[has, :length]), return_counts=True)
            keys.append(k)
            counts.append(c.astype(np.int64))
        return cls(keys, counts, codes.n_items)

    def count(self, prefixes: np.ndarray) -> np.ndarray:
        """Training items under each prefix (rows of equal length l >= 1); 0 for unseen prefixes."""
        length = prefixes.shape[1]
        pos, found = find_sorted(self.keys[length - 1], code_keys(prefixes))
        out = np.zeros(prefixes.shape[0], dtype=np.int64)
        out[found] = self.counts[length - 1][pos[found]]
        return out

    def prob(self, prefixes: np.ndarray) -> np.ndarray:
        return self.count(prefixes) / max(self.n_train, 1)

    def continues(self, prefixes: np.ndarray, tau: float) -> np.ndarray:
        """Whether items with these prefixes go on to the next layer: P(prefix) > tau."""
        return self.count(prefixes) > tau * self.n_train

    def merged(self, other: PrefixTables) -> PrefixTables:
        """Tables over the training items of both (counts added prefix by prefix)."""
        keys, counts = [], []
        for k1, c1, k2, c2 in zip(self.keys, self.counts, other.keys, other.counts, strict=True):
            k, inverse = np.unique(np.concatenate([k1, k2]), return_inverse=True)
            total = np.zeros(k.size, dtype=np.int64)
            np.add.at(total, inverse.ravel(), np.concatenate([c1, c2]))
            keys.append(k)
            counts.append(total)
        return PrefixTables(keys, counts, self.n_train + other.n_train)

    def to_tensors(self, prefix: str = "prefix") -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {f"{prefix}_n_train": np.array([self.n_train], dtype=np.int64)}
        for i, (k, c) in enumerate(zip(self.keys, self.counts, strict=True)):
            out[f"{prefix}_keys_{i + 1}"] = np.frombuffer(k.tobytes(), dtype=np.uint8).reshape(len(k), 4 * (i + 1))
            out[f"{prefix}_counts_{i + 1}"] = c
        return out

    @classmethod
    def from_tensors(cls, tensors: dict[str, np.ndarray], n_layers: int, prefix: str = "prefix") -> PrefixTables:
        keys, counts = [], []
        for length in range(1, n_layers):
            raw = np.ascontiguousarray(tensors[f"{prefix}_keys_{length}"])
            keys.append(raw.view(f"S{4 * length}").ravel() if raw.size else np.array([], dtype=f"S{4 * length}"))
            counts.append(tensors[f"{prefix}_counts_{length}"])
        return cls(keys, counts, int(tensors[f"{prefix}_n_train"][0]))


def shared_counts(prefixes: np.ndarray) -> np.ndarray:
    """For each row, how many rows (itself included) have its prefix: a stage's own counts."""
    _, inverse, counts = np.unique(code_keys(prefixes), return_inverse=True, return_counts=True)
    return counts[inverse.ravel()].astype(np.int64)


def cut_codes(codes: np.ndarray, continues: Callable[[np.ndarray], np.ndarray]) -> Codes:
    """Cut full-length codes [n, L] to SARQ depths: layer l is kept while every shorter prefix continues
    (``continues(prefixes)`` decides for the rows' prefixes of one length)."""
    n, L = codes.shape
    lengths = np.ones(n, dtype=np.int32)
    alive = np.ones(n, dtype=bool)
    for layer in range(1, L):
        alive &= continues(codes[:, :layer])
        lengths += alive
    out = np.where(np.arange(L)[None, :] < lengths[:, None], codes, PAD).astype(np.int32)
    return Codes(out, lengths)


def apply_depths(codes: np.ndarray, tables: PrefixTables, tau: float) -> Codes:
    """Cut full-length codes [n, L] by SARQ's rule on fixed tables: continue while P(prefix) > tau."""
    return cut_codes(codes, lambda prefixes: tables.continues(prefixes, tau))
