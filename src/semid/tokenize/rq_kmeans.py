"""RQ-KMeans: k-means on the vectors, then k-means on the residuals, layer by layer, the semantic IDs of
"OneRec Technical Report" (arXiv:2506.13695) and "OneSearch: A Preliminary Exploration of the Unified
End-to-End Generative Framework for E-commerce Search" (arXiv:2509.03236).

Each layer is trained with faiss k-means (subsampled to ``max_points_per_centroid`` points per
centroid, as faiss does) and every item is assigned to its nearest centroid, exactly; the residual
left after a layer is what the next layer quantizes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np
from tqdm.auto import tqdm

from semid.codes import Codes
from semid.embed.vectors import check_fit_vectors, check_vectors
from semid.errors import DataError
from semid.tokenize.base import read_folder, write_folder


@dataclass
class RQKMeansConfig:
    codebook_sizes: list[int] = field(default_factory=lambda: [256, 256, 256])  # codes per layer
    n_iter: int = 20  # k-means iterations per layer
    seed: int = 0  # k-means initialisation seed (fit is deterministic given the seed)
    max_points_per_centroid: int = 256  # training subsample per centroid, per layer
    show_progress: bool = True  # a progress bar over layers


def check_codebook_sizes(sizes: list[int], n_items: int) -> None:
    if not sizes or any(int(s) < 1 for s in sizes):
        raise DataError(f"codebook sizes must be a non-empty list of positive ints, got {sizes}", source="config")
    if max(sizes) > n_items:
        raise DataError(
            f"codebook of size {max(sizes)} is larger than the number of items ({n_items}); use smaller codebook sizes",
            source="config",
        )


def nearest(centroids: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid (L2) of each row of x."""
    index = faiss.IndexFlatL2(centroids.shape[1])
    index.add(np.ascontiguousarray(centroids, dtype=np.float32))
    _, labels = index.search(np.ascontiguousarray(x, dtype=np.float32), 1)
    return labels[:, 0].astype(np.int32)


def sum_codebooks(codebooks: list[np.ndarray], codes: Codes) -> np.ndarray:
    """Residual reconstruction: the sum of each code's centroids over that code's own length."""
    out = np.zeros((codes.n_items, codebooks[0].shape[1]), dtype=np.float32)
    for layer, centroids in enumerate(codebooks[: codes.n_layers]):
        used = codes.lengths > layer
        out[used] += centroids[codes.codes[used, layer]]
    return out


def train_kmeans(x: np.ndarray, k: int, n_iter: int, seed: int, max_points_per_centroid: int) -> np.ndarray:
    km = faiss.Kmeans(
        x.shape[1], k, niter=n_iter, seed=seed, max_points_per_centroid=max_points_per_centroid, verbose=False
    )
    km.cp.min_points_per_centroid = 1  # small catalogues are fine; faiss would only warn
    km.train(np.ascontiguousarray(x, dtype=np.float32))
    return np.asarray(km.centroids, dtype=np.float32)


class RQKMeans:
    """Residual k-means tokenizer with fixed-length codes."""

    method = "rq_kmeans"

    def __init__(self, config: RQKMeansConfig | None = None) -> None:
        self.config = config or RQKMeansConfig()
        self.codebooks: list[np.ndarray] = []

    @property
    def codebook_sizes(self) -> list[int]:
        return list(self.config.codebook_sizes)

    @property
    def dim(self) -> int:
        self._check_fitted()
        return int(self.codebooks[0].shape[1])

    def _check_fitted(self) -> None:
        if not self.codebooks:
            raise RuntimeError("tokenizer is not fitted; call fit() or load() first")

    def fit(self, vectors: np.ndarray, *, is_head: np.ndarray | None = None) -> RQKMeans:
        """Fit the codebooks layer by layer. `is_head` is accepted for interface parity and unused."""
        x = check_fit_vectors(vectors, source="vectors")
        check_codebook_sizes(self.config.codebook_sizes, x.shape[0])
        residual = x.copy()
        self.codebooks = []
        layers = tqdm(
            list(enumerate(self.config.codebook_sizes)),
            desc="rq_kmeans layers",
            disable=not self.config.show_progress,
        )
        for layer, k in layers:
            centroids = train_kmeans(
                residual, k, self.config.n_iter, self.config.seed + layer, self.config.max_points_per_centroid
            )
            labels = nearest(centroids, residual)
            residual -= centroids[labels]
            self.codebooks.append(centroids)
        return self

    def encode(self, vectors: np.ndarray, *, is_head: np.ndarray | None = None) -> Codes:
        """Codes of any vectors (new items too: nothing is refitted). `is_head` is unused here."""
        self._check_fitted()
        residual = check_vectors(vectors, source="vectors", dim=self.dim).copy()
        codes = np.empty((residual.shape[0], len(self.codebooks)), dtype=np.int32)
        for layer, centroids in enumerate(self.codebooks):
            codes[:, layer] = nearest(centroids, residual)
            residual -= centroids[codes[:, layer]]
        return Codes.full(codes)

    def decode(self, codes: Codes) -> np.ndarray:
        """Sum of the centroids along each code, over that code's own length."""
        self._check_fitted()
        codes.validate(self.codebook_sizes)
        return sum_codebooks(self.codebooks, codes)

    def save(self, path: str | Path) -> Path:
        self._check_fitted()
        tensors = {f"codebook_{i}": cb for i, cb in enumerate(self.codebooks)}
        return write_folder(path, self.method, self.config, tensors, dim=self.dim)

    @classmethod
    def load(cls, path: str | Path) -> RQKMeans:
        payload, tensors = read_folder(path)
        tok = cls(RQKMeansConfig(**payload["config"]))
        tok.codebooks = [tensors[f"codebook_{i}"] for i in range(len(tok.config.codebook_sizes))]
        return tok


def fit_codebook(x: np.ndarray, k: int, n_iter: int, seed: int, max_points_per_centroid: int) -> np.ndarray:
    """k-means centroids, also when fewer than k points reach this layer (deep layers of adaptive codes):
    then every point becomes a centroid and the spare centroids are jittered copies, which stay unused."""
    if x.shape[0] >= k:
        return train_kmeans(x, k, n_iter, seed, max_points_per_centroid)
    rng = np.random.default_rng(seed)
    if x.shape[0] == 0:
        return rng.normal(scale=1e-3, size=(k, x.shape[1])).astype(np.float32)
    spare = x[rng.integers(0, x.shape[0], size=k - x.shape[0])]
    spare = spare + rng.normal(scale=1e-3, size=spare.shape).astype(np.float32)
    return np.vstack([x, spare]).astype(np.float32)


def anchored_kmeans(
    x: np.ndarray, anchors: np.ndarray, n_new: int, n_iter: int, seed: int, max_points_per_centroid: int
) -> np.ndarray:
    """ACRQ's tail stage for one layer: a codebook of frozen `anchors` plus `n_new` trainable codes (the
    anchored transfer of Sec. 2.2 of "Towards Efficient and Generalizable Retrieval: Adaptive Semantic
    Quantization and Residual Knowledge Transfer", arXiv:2602.23978, with k-means in place of gradients).

    Lloyd iterations over `x` where every point is assigned among all codes but only the new codes move,
    each to the mean of the points it holds (the codebook loss masked to extension assignments). The new
    codes start as k-means of the points the anchors serve worst; a new code that holds nothing is
    re-seeded on the worst-served point. The returned rows ``[:len(anchors)]`` are `anchors`, bit for bit.
    """
    n_anchor = anchors.shape[0]
    if n_new == 0:
        return anchors.copy()
    rng = np.random.default_rng(seed)
    if x.shape[0] == 0:
        new = anchors[rng.integers(0, n_anchor, size=n_new)] + rng.normal(scale=1e-3, size=(n_new, anchors.shape[1]))
        return np.vstack([anchors, new.astype(np.float32)])
    err = ((x - anchors[nearest(anchors, x)]) ** 2).sum(axis=1)
    worst = x[np.argsort(-err, kind="stable")[: max(n_new * 8, min(x.shape[0], n_new))]]
    new = fit_codebook(worst, n_new, n_iter, seed, max_points_per_centroid)
    codebook = np.vstack([anchors, new]).astype(np.float32)
    for _ in range(n_iter):
        labels = nearest(codebook, x)
        dist = ((x - codebook[labels]) ** 2).sum(axis=1)
        is_new = labels >= n_anchor
        idx = labels[is_new] - n_anchor
        sums = np.zeros((n_new, x.shape[1]), dtype=np.float64)
        np.add.at(sums, idx, x[is_new])
        counts = np.bincount(idx, minlength=n_new)
        held = counts > 0
        codebook[n_anchor:][held] = (sums[held] / counts[held, None]).astype(np.float32)
        dead = np.flatnonzero(~held)
        if dead.size:
            reseed = np.argsort(-dist, kind="stable")[: dead.size]
            codebook[n_anchor + dead[: reseed.size]] = x[reseed]
    codebook[:n_anchor] = anchors
    return codebook
