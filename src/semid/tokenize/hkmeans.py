"""Hierarchical k-means IDs: recursive clustering, then the item's rank inside its leaf, the semantic
identifiers of "A Neural Corpus Indexer for Document Retrieval" (NCI, arXiv:2206.02743) after
"Transformer Memory as a Differentiable Search Index" (DSI, arXiv:2202.06991).

A group of items larger than the layer's codebook size is split by k-means (the token is the cluster);
a group that fits becomes a leaf and its items take tokens 0, 1, ... in order of distance to the group's
mean (the last layer ranks whatever reaches it, modulo its size, so tokens are shared when more items
than codes arrive). Codes are variable-length and never a prefix of one another. The sorted distances of
each leaf are kept, so encoding is one rule for all vectors: descend to the nearest centroids, then take
the rank the vector's distance would have in its leaf. A fitted item gets its own code back; a new item
shares the SID of the fitted item at its rank (the nearest in distance to the leaf's mean).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from semid.codes import PAD, Codes
from semid.embed.vectors import check_fit_vectors, check_vectors
from semid.errors import DataError
from semid.tokenize.base import read_folder, write_folder
from semid.tokenize.rq_kmeans import nearest, train_kmeans


@dataclass
class HKMeansConfig:
    codebook_sizes: list[int] = field(default_factory=lambda: [32, 32, 32, 32])  # branching per layer
    n_iter: int = 20
    seed: int = 0
    max_points_per_centroid: int = 256
    show_progress: bool = True


class HierarchicalKMeans:
    method = "nci"

    def __init__(self, config: HKMeansConfig | None = None) -> None:
        self.config = config or HKMeansConfig()
        # node arrays: node 0 is the root; a split node's children are child_start .. child_start + k - 1
        self.centroid = np.zeros((0, 0), dtype=np.float32)  # the mean of each node's items
        self.child_start = np.zeros(0, dtype=np.int64)  # -1 for a leaf
        self.depth = np.zeros(0, dtype=np.int32)
        self.dist_start = np.zeros(0, dtype=np.int64)  # leaf l's sorted squared distances:
        self.dists = np.zeros(0, dtype=np.float64)  # dists[dist_start[l] : dist_start[l + 1]]
        self._parent: np.ndarray | None = None

    @property
    def codebook_sizes(self) -> list[int]:
        return list(self.config.codebook_sizes)

    def _check_fitted(self) -> None:
        if self.child_start.size == 0:
            raise RuntimeError("tokenizer is not fitted; call fit() or load() first")

    def fit(self, vectors: np.ndarray, *, is_head: np.ndarray | None = None) -> HierarchicalKMeans:
        x = check_fit_vectors(vectors, source="vectors")
        sizes = self.config.codebook_sizes
        if not sizes or min(sizes) < 2:
            raise DataError(f"hierarchical k-means needs codebook sizes >= 2, got {sizes}", source="config")
        centroid, child_start, depth = [x.mean(axis=0)], [-1], [0]
        todo = [(0, np.arange(x.shape[0]))]  # (node, its item rows)
        bar = tqdm(total=x.shape[0], desc="nci hierarchical k-means", disable=not self.config.show_progress)
        while todo:
            node, rows = todo.pop()
            layer = depth[node]
            k = sizes[layer]
            if len(rows) <= k or layer == len(sizes) - 1:
                bar.update(len(rows))
                continue  # a leaf
            cents = train_kmeans(
                x[rows], k, self.config.n_iter, self.config.seed + node, self.config.max_points_per_centroid
            )
            labels = nearest(cents, x[rows])
            child_start[node] = len(centroid)
            for c in range(k):
                members = rows[labels == c]
                centroid.append(x[members].mean(axis=0) if len(members) else cents[c])
                child_start.append(-1)
                depth.append(layer + 1)
                if len(members):
                    todo.append((len(centroid) - 1, members))
        bar.close()
        self.centroid = np.asarray(centroid, dtype=np.float32)
        self.child_start = np.asarray(child_start, dtype=np.int64)
        self.depth = np.asarray(depth, dtype=np.int32)
        self._parent = None  # derived from the tree just replaced
        leaf, dist = self._descend(x)
        order = np.lexsort((dist, leaf))
        self.dists = dist[order]
        self.dist_start = np.searchsorted(leaf[order], np.arange(len(centroid) + 1)).astype(np.int64)
        return self

    def _descend(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each row's leaf node and its squared distance (float64) to that leaf's mean."""
        leaf = np.zeros(x.shape[0], dtype=np.int64)
        todo = [(0, np.arange(x.shape[0]))]
        while todo:
            node, rows = todo.pop()
            start = int(self.child_start[node])
            if start < 0:
                leaf[rows] = node
                continue
            k = self.config.codebook_sizes[int(self.depth[node])]
            labels = nearest(self.centroid[start : start + k], x[rows])
            for c in np.unique(labels):
                todo.append((start + int(c), rows[labels == c]))
        diff = x.astype(np.float64) - self.centroid[leaf].astype(np.float64)
        return leaf, np.einsum("ij,ij->i", diff, diff)

    def _path(self, node: int) -> list[int]:
        """Tokens from the root to `node` (a child's token is its offset among its siblings)."""
        parent = self._parents()
        out = []
        while node != 0:
            p = int(parent[node])
            out.append(node - int(self.child_start[p]))
            node = p
        return out[::-1]

    def _parents(self) -> np.ndarray:
        if self._parent is None:
            parent = np.full(len(self.child_start), -1, dtype=np.int64)
            for node in np.flatnonzero(self.child_start >= 0):
                k = self.config.codebook_sizes[int(self.depth[node])]
                start = int(self.child_start[node])
                parent[start : start + k] = node
            self._parent = parent
        return self._parent

    def encode(self, vectors: np.ndarray, *, is_head: np.ndarray | None = None) -> Codes:
        """Descend to a leaf; the last token is the vector's rank by distance among the leaf's fitted items."""
        self._check_fitted()
        x = check_vectors(vectors, source="vectors", dim=self.centroid.shape[1])
        sizes = self.config.codebook_sizes
        leaf, dist = self._descend(x)
        codes = np.full((x.shape[0], len(sizes)), PAD, dtype=np.int32)
        lengths = np.zeros(x.shape[0], dtype=np.int32)
        for node in np.unique(leaf):
            rows = np.flatnonzero(leaf == node)
            path = self._path(int(node))
            layer = len(path)
            lo, hi = int(self.dist_start[node]), int(self.dist_start[node + 1])
            rank = np.minimum(np.searchsorted(self.dists[lo:hi], dist[rows], side="left"), max(hi - lo - 1, 0))
            codes[rows, :layer] = path
            codes[rows, layer] = rank % sizes[layer]
            lengths[rows] = layer + 1
        return Codes(codes, lengths)

    def decode(self, codes: Codes) -> np.ndarray:
        """The mean of the deepest node each code reaches (the leaf's mean for a leaf rank)."""
        self._check_fitted()
        out = np.empty((codes.n_items, self.centroid.shape[1]), dtype=np.float32)
        for i in range(codes.n_items):
            node = 0
            for layer in range(int(codes.lengths[i])):
                start = int(self.child_start[node])
                if start < 0:
                    break
                node = start + int(codes.codes[i, layer])
            out[i] = self.centroid[node]
        return out

    def save(self, path: str | Path) -> Path:
        self._check_fitted()
        tensors: dict[str, np.ndarray] = {
            "centroid": self.centroid,
            "child_start": self.child_start,
            "depth": self.depth,
            "dist_start": self.dist_start,
            "dists": self.dists,
        }
        return write_folder(path, self.method, self.config, tensors)

    @classmethod
    def load(cls, path: str | Path) -> HierarchicalKMeans:
        payload, tensors = read_folder(path)
        tok = cls(HKMeansConfig(**payload["config"]))
        tok.centroid, tok.child_start, tok.depth = tensors["centroid"], tensors["child_start"], tensors["depth"]
        tok.dist_start, tok.dists = tensors["dist_start"], tensors["dists"]
        return tok
