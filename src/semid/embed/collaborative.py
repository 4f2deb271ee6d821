"""Collaborative item vectors from a click log, joined to the content vectors, so that semantic IDs group the
items users consume together and not only the items that read alike.

Content-only SIDs put "Toy Story" next to other animated films; the log says its viewers go on to "Forrest
Gump". A generative model must then learn every such jump token by token. Giving the tokenizer the log's
co-consumption is the idea of "Learnable Item Tokenization for Generative Recommendation" (LETTER,
arXiv:2405.07314), which adds a collaborative loss to an RQ-VAE. semid keeps its tokenizers as they are and
changes their input instead: each item's vector is its content vector joined to a collaborative vector, the
closed form of "Neural Word Embedding as Implicit Matrix Factorization" (Levy & Goldberg, NeurIPS 2014):
positive PMI of co-occurrence between a record's target and the last `window` items of its history, factorised
by truncated SVD. Items the log says too little about, and items added later (cold start), get their
collaborative part from their content vector through a ridge map fitted on the well-observed items.

Only training records count, so validation and test targets never leak into the vectors.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from semid.errors import DataError

if TYPE_CHECKING:
    from semid.data.format import Dataset

COLLABORATIVE_JSON, COLLABORATIVE_NPZ = "collaborative.json", "collaborative.npz"


@dataclass
class CollaborativeConfig:
    dim: int = 64  # collaborative dimensions (truncated SVD rank)
    weight: float = 0.7  # share of each joined vector's squared norm that is collaborative (0: content only)
    window: int = 5  # a record's target co-occurs with the last `window` items of its history
    min_count: int = 3  # items with fewer co-occurrences get their collaborative part from their content
    ridge: float = 1.0  # L2 penalty of the content -> collaborative map

    def check(self) -> None:
        if self.dim < 1 or self.window < 1 or self.min_count < 1:
            raise DataError("collaborative dim, window and min_count must be >= 1", source="collaborative")
        if self.ridge < 0:
            raise DataError(f"collaborative ridge {self.ridge} is negative", source="collaborative")
        if not 0.0 <= self.weight <= 1.0:
            raise DataError(f"collaborative weight {self.weight} is outside 0..1", source="collaborative")


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


class CollaborativeVectors:
    """Fitted on a dataset's training records: `vectors(item_ids, content)` joins any items' content vectors
    to their collaborative part (learned where the log had enough evidence, mapped from content otherwise)."""

    def __init__(
        self,
        config: CollaborativeConfig,
        item_ids: list[str],
        learned: np.ndarray,
        content_map: np.ndarray,
        content_sha256: str = "",
    ) -> None:
        if len(learned) != len(item_ids) or learned.shape[1:] != content_map.shape[1:]:
            raise DataError(
                f"{len(item_ids)} item ids, learned vectors {learned.shape}, content map {content_map.shape}",
                source="collaborative vectors",
            )
        self.config, self.item_ids = config, list(item_ids)
        self.content_sha256 = content_sha256  # of the catalogue's content vectors it was fitted next to
        self.learned = learned.astype(np.float32)  # [len(item_ids), dim]: the well-observed items only
        self.content_map = content_map.astype(np.float32)  # [content dim, dim]
        self._row = {x: i for i, x in enumerate(self.item_ids)}

    @classmethod
    def fit(cls, ds: Dataset, content: np.ndarray, config: CollaborativeConfig | None = None) -> CollaborativeVectors:
        import pandas as pd
        import scipy.sparse as sp
        from scipy.sparse.linalg import svds

        cfg = config or CollaborativeConfig()
        cfg.check()
        if len(content) != ds.n_items:
            raise DataError(f"{len(content)} content vectors for {ds.n_items} items", source="item_vectors")
        train = ds.split("train")
        if len(train) == 0 or train["history"].map(len).sum() == 0:
            raise DataError(
                "collaborative vectors need training records with histories (a click log); this dataset has none",
                source=ds.name,
            )
        ids = ds.items["item_id"].tolist()
        row = pd.Series(np.arange(len(ids)), index=ids)
        recent = train["history"].map(lambda h: list(h)[-cfg.window :])
        b = row.loc[[x for h in recent for x in h]].to_numpy()  # history items, record by record
        a = np.repeat(row.loc[train["target"]].to_numpy(), recent.map(len).to_numpy())  # their records' targets
        shape = (len(ids), len(ids))
        counts = sp.coo_matrix((np.ones(2 * len(a)), (np.r_[a, b], np.r_[b, a])), shape=shape).tocsr()  # symmetric
        per_item = np.asarray(counts.sum(axis=1)).ravel()
        coo = counts.tocoo()
        pmi = np.log(coo.data * per_item.sum() / (per_item[coo.row] * per_item[coo.col]))
        keep = pmi > 0
        ppmi = sp.csr_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=counts.shape)
        rank = min(cfg.dim, len(ids) - 2)
        if rank < 1:
            raise DataError(f"{len(ids)} items are too few for collaborative vectors", source=ds.name)
        u, s, _ = svds(ppmi, k=rank, v0=np.ones(len(ids)) / np.sqrt(len(ids)))  # v0: deterministic
        learned = u * np.sqrt(s)
        # enough co-occurrences, and some above chance (an all-zero row would leave the join short of norm 1)
        observed = (per_item >= cfg.min_count) & (np.linalg.norm(learned, axis=1) > 1e-9)
        if observed.sum() < 2:
            raise DataError("fewer than 2 items co-occur often enough for collaborative vectors", source=ds.name)
        x = _unit(np.asarray(content, dtype=np.float64))[observed]
        content_map = np.linalg.solve(x.T @ x + cfg.ridge * np.eye(x.shape[1]), x.T @ learned[observed])
        kept = [ids[i] for i in np.flatnonzero(observed)]
        return cls(cfg, kept, learned[observed], content_map, content_fingerprint(content))

    def vectors(self, item_ids: list[str], content: np.ndarray) -> np.ndarray:
        """[n, content dim + dim] float32: unit content * sqrt(1 - weight) joined to unit collaborative *
        sqrt(weight), so every vector has norm 1 and the weight is the collaborative share of distances."""
        if content.shape[1] != self.content_map.shape[0]:
            raise DataError(
                f"content vectors of dimension {content.shape[1]}; these collaborative vectors were fitted on "
                f"{self.content_map.shape[0]}",
                source="item_vectors",
            )
        text = _unit(np.asarray(content, dtype=np.float32))
        collab = text @ self.content_map
        rows = np.array([self._row.get(x, -1) for x in item_ids], dtype=np.int64)
        known = rows >= 0
        collab[known] = self.learned[rows[known]]
        w = self.config.weight
        return np.concatenate([text * np.sqrt(1 - w), _unit(collab) * np.sqrt(w)], axis=1).astype(np.float32)

    def save(self, folder: str | Path) -> None:
        root = Path(folder)
        np.savez(root / COLLABORATIVE_NPZ, learned=self.learned, content_map=self.content_map)
        info = {"config": asdict(self.config), "item_ids": self.item_ids, "content_sha256": self.content_sha256}
        (root / COLLABORATIVE_JSON).write_text(json.dumps(info) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path) -> CollaborativeVectors:
        root = Path(folder)
        try:
            info = json.loads((root / COLLABORATIVE_JSON).read_text(encoding="utf-8"))
            with np.load(root / COLLABORATIVE_NPZ, allow_pickle=False) as arrays:
                learned, content_map = arrays["learned"], arrays["content_map"]
            config = CollaborativeConfig(**info["config"])
            return cls(config, info["item_ids"], learned, content_map, info.get("content_sha256", ""))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise DataError(f"collaborative vectors do not load: {e}", source=str(root)) from e

    @staticmethod
    def present(folder: str | Path) -> bool:
        return (Path(folder) / COLLABORATIVE_JSON).exists()

    @staticmethod
    def remove(folder: str | Path) -> None:
        """Delete a saved join (a refit without one must not leave the old one to be applied)."""
        for name in (COLLABORATIVE_JSON, COLLABORATIVE_NPZ):
            (Path(folder) / name).unlink(missing_ok=True)


def content_fingerprint(content: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(content, dtype=np.float32).tobytes()).hexdigest()
