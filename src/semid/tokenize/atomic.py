"""Atomic IDs of "Transformer Memory as a Differentiable Search Index" (DSI, arXiv:2202.06991): one token
per item, no shared structure (the baseline semantic IDs improve on).

Item i of the fitted catalogue gets the single-token code (i,). A new item (cold start) has no token the
model has learned; it shares the code of its nearest fitted item (L2), the closest DSI can do without
growing the vocabulary. The fitted vectors are kept (float16) for that lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from semid.codes import Codes, find_sorted
from semid.embed.vectors import check_fit_vectors, check_vectors
from semid.tokenize.base import read_folder, write_folder
from semid.tokenize.rq_kmeans import nearest


@dataclass
class AtomicConfig:
    pass


def _row_keys(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.astype(np.float32)).view(f"V{4 * x.shape[1]}").ravel()


class AtomicIDs:
    method = "dsi"

    def __init__(self, config: AtomicConfig | None = None) -> None:
        self.config = config or AtomicConfig()
        self.vectors: np.ndarray | None = None  # float16 [n, d]

    @property
    def codebook_sizes(self) -> list[int]:
        self._check_fitted()
        assert self.vectors is not None
        return [int(self.vectors.shape[0])]

    def _check_fitted(self) -> None:
        if self.vectors is None:
            raise RuntimeError("tokenizer is not fitted; call fit() or load() first")

    def fit(self, vectors: np.ndarray, *, is_head: np.ndarray | None = None) -> AtomicIDs:
        self.vectors = check_fit_vectors(vectors, source="vectors").astype(np.float16)
        return self

    def encode(self, vectors: np.ndarray, *, is_head: np.ndarray | None = None) -> Codes:
        """Fitted items get their own token (found by exact vector match, as stored); others the nearest one's."""
        self._check_fitted()
        assert self.vectors is not None
        x = check_vectors(vectors, source="vectors", dim=self.vectors.shape[1]).astype(np.float16)
        known = _row_keys(self.vectors)
        order = np.argsort(known, kind="stable")
        pos, seen = find_sorted(known[order], _row_keys(x))
        codes = order[pos].astype(np.int32)
        unseen = ~seen
        if unseen.any():
            codes[unseen] = nearest(self.vectors.astype(np.float32), x[unseen].astype(np.float32))
        return Codes.full(codes[:, None])

    def decode(self, codes: Codes) -> np.ndarray:
        self._check_fitted()
        assert self.vectors is not None
        codes.validate(self.codebook_sizes)
        return self.vectors[codes.codes[:, 0]].astype(np.float32)

    def save(self, path: str | Path) -> Path:
        self._check_fitted()
        assert self.vectors is not None
        return write_folder(path, self.method, self.config, {"vectors": self.vectors})

    @classmethod
    def load(cls, path: str | Path) -> AtomicIDs:
        _, tensors = read_folder(path)
        tok = cls()
        tok.vectors = tensors["vectors"]
        return tok
