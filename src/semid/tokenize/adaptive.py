"""SARQ, ACRQ and SA²CRQ on residual k-means (paper 001 Sec. 2; SPEC.md "Tokenizers").

- SARQ (``adaptive``): layer l >= 2 is fitted on, and assigned to, only the items whose prefix of length
  l-1 has P > tau (see semid.tokenize.prefix); the prefix tables are saved and decide new items' depths.
- ACRQ (``anchored``): stage 1 fits the head items with codebook sizes ``head_codebook_sizes``
  (M_1 <= ... <= M_L); stage 2 extends every layer to ``codebook_sizes`` with the head codes frozen as
  anchors and only the extension trained, on the tail items (semid.tokenize.rq_kmeans.anchored_kmeans).
- SA²CRQ (both): stage 1 = ACRQ head stage + SARQ over head items, giving the head tables; stage 2 =
  ACRQ tail stage where tail depths follow the head tables (a prefix unseen in the head stops).

Head items are encoded on the anchors only (``encode(x, is_head=...)``), so the tail stage and later
cold-start assignments never move a head item's SID. The k-means quantizer is used here; the RQ-VAE
quantizer with the same options lives in semid.tokenize.rq_vae.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from semid.codes import PAD, Codes, code_keys
from semid.embed.vectors import check_fit_vectors, check_vectors
from semid.errors import DataError
from semid.tokenize.base import read_folder, write_folder
from semid.tokenize.prefix import PrefixTables, apply_depths, resolve_tau
from semid.tokenize.rq_kmeans import anchored_kmeans, check_codebook_sizes, fit_codebook, nearest, sum_codebooks


@dataclass
class AdaptiveRQConfig:
    codebook_sizes: list[int] = field(default_factory=lambda: [256, 256, 256])  # final codes per layer (M)
    adaptive: bool = True  # SARQ: variable depth from prefix probabilities
    anchored: bool = False  # ACRQ: head stage, then tail stage on frozen anchors
    tau: float | None = None  # SARQ budget: continue while P(prefix) > tau
    min_items: int | None = 8  # ...or: continue while >= min_items training items share the prefix
    head_codebook_sizes: list[int] | None = None  # ACRQ head-stage sizes; default M/4, M/2, M, ... (capped)
    n_iter: int = 20  # k-means / Lloyd iterations per layer
    seed: int = 0
    max_points_per_centroid: int = 256
    show_progress: bool = True

    def __post_init__(self) -> None:
        if self.tau is not None:
            self.min_items = None  # an explicit tau wins over the default min_items


def variant_name(adaptive: bool, anchored: bool, base: str) -> str:
    """Method name of a quantizer with SARQ/ACRQ switched on or off: rq_kmeans, sarq, acrq, sa2crq
    (on residual k-means) or rq_vae, sarq_vae, acrq_vae, sa2crq_vae."""
    name = {(False, False): base, (True, False): "sarq", (False, True): "acrq", (True, True): "sa2crq"}
    suffix = "_vae" if base == "rq_vae" and (adaptive or anchored) else ""
    return name[(adaptive, anchored)] + suffix


def head_sizes(codebook_sizes: list[int], head_codebook_sizes: list[int] | None) -> list[int]:
    return list(head_codebook_sizes) if head_codebook_sizes else default_head_sizes(codebook_sizes)


def default_head_sizes(sizes: list[int]) -> list[int]:
    """M/4, M/2, M, M, ... per layer: small early layers for coarse head semantics (paper: [512, 512, 4096])."""
    fractions = [0.25, 0.5] + [1.0] * max(0, len(sizes) - 2)
    return [max(1, int(m * f)) for m, f in zip(sizes, fractions, strict=False)]


def check_head_stage(head_sizes: list[int], sizes: list[int], is_head: np.ndarray | None, n_items: int) -> np.ndarray:
    """ACRQ's preconditions: head sizes per layer, never decreasing, within the final sizes; enough head
    items for the head codebooks and some tail items to extend them. Returns the head mask."""
    if len(head_sizes) != len(sizes):
        raise DataError(f"head_codebook_sizes {head_sizes} must have one size per layer", source="config")
    if any(int(h) < 1 for h in head_sizes):
        raise DataError(f"head_codebook_sizes must be positive, got {head_sizes}", source="config")
    if any(b < a for a, b in pairwise(head_sizes)):
        raise DataError(f"head_codebook_sizes must not decrease layer to layer, got {head_sizes}", source="config")
    if any(h > m for h, m in zip(head_sizes, sizes, strict=True)):
        raise DataError(f"head_codebook_sizes {head_sizes} exceed codebook_sizes {sizes}", source="config")
    if is_head is None or not np.any(is_head):
        raise DataError("ACRQ needs head items: pass is_head with at least one True", source="is_head")
    head = np.asarray(is_head, dtype=bool)
    if head.shape != (n_items,):
        raise DataError(f"is_head has shape {head.shape}, expected ({n_items},)", source="is_head")
    if head.all():
        raise DataError("ACRQ needs tail items too: every item is head", source="is_head")
    if int(head.sum()) < head_sizes[0]:
        raise DataError(
            f"{int(head.sum())} head items are fewer than the first head codebook ({head_sizes[0]})", source="is_head"
        )
    return head


class AdaptiveRQ:
    """Adaptive-length (SARQ), anchored (ACRQ) or both (SA²CRQ) residual k-means."""

    def __init__(self, config: AdaptiveRQConfig | None = None) -> None:
        self.config = config or AdaptiveRQConfig()
        self.codebooks: list[np.ndarray] = []
        self.tables: PrefixTables | None = None
        self.tau: float = 0.0

    @property
    def method(self) -> str:
        return variant_name(self.config.adaptive, self.config.anchored, "rq_kmeans")

    @property
    def codebook_sizes(self) -> list[int]:
        return list(self.config.codebook_sizes)

    @property
    def head_codebook_sizes(self) -> list[int]:
        return head_sizes(self.config.codebook_sizes, self.config.head_codebook_sizes)

    @property
    def dim(self) -> int:
        if not self.codebooks:
            raise RuntimeError("tokenizer is not fitted; call fit() or load() first")
        return int(self.codebooks[0].shape[1])

    # ------------------------------------------------------------------------------------------ fit

    def _check_config(self, n_items: int, is_head: np.ndarray | None) -> None:
        check_codebook_sizes(self.config.codebook_sizes, n_items)
        if self.config.anchored:
            check_head_stage(self.head_codebook_sizes, self.config.codebook_sizes, is_head, n_items)

    def _quantize(
        self, x: np.ndarray, sizes: list[int], tables: PrefixTables | None, anchors: list[np.ndarray] | None, desc: str
    ) -> tuple[list[np.ndarray], Codes]:
        """Fit one stage layer by layer on `x`. With `tables` fixed, depths follow them; with None and
        adaptive on, the tables grow from this stage's own codes as each layer is fitted."""
        c = self.config
        n, L = x.shape[0], len(sizes)
        residual = x.copy()
        codes = np.full((n, L), PAD, dtype=np.int32)
        alive = np.ones(n, dtype=bool)
        codebooks: list[np.ndarray] = []
        for layer in tqdm(range(L), desc=desc, disable=not c.show_progress):
            if layer > 0 and c.adaptive:
                prefix = codes[:, :layer]
                if tables is not None:
                    alive &= tables.continues(prefix, self.tau)
                else:  # this stage's own prefix counts (dead items carry PAD, so never match a live prefix)
                    _, inverse, counts = np.unique(code_keys(prefix), return_inverse=True, return_counts=True)
                    alive &= counts[inverse.ravel()] > self.tau * n
            seed = c.seed + layer
            if anchors is None:
                cb = fit_codebook(residual[alive], sizes[layer], c.n_iter, seed, c.max_points_per_centroid)
            else:
                cb = anchored_kmeans(
                    residual[alive],
                    anchors[layer],
                    sizes[layer] - anchors[layer].shape[0],
                    c.n_iter,
                    seed,
                    c.max_points_per_centroid,
                )
            labels = nearest(cb, residual[alive])
            codes[alive, layer] = labels
            residual[alive] -= cb[labels]
            codebooks.append(cb)
        lengths = (codes != PAD).sum(axis=1).astype(np.int32)
        return codebooks, Codes(codes, lengths)

    def fit(self, vectors: np.ndarray, *, is_head: np.ndarray | None = None) -> AdaptiveRQ:
        c = self.config
        x = check_fit_vectors(vectors, source="vectors")
        if is_head is not None and np.asarray(is_head).shape != (x.shape[0],):
            raise DataError(
                f"is_head has shape {np.asarray(is_head).shape}, expected ({x.shape[0]},)", source="is_head"
            )
        self._check_config(x.shape[0], is_head)
        if not c.anchored:
            self.tau = resolve_tau(c.tau, c.min_items, x.shape[0]) if c.adaptive else 0.0
            self.codebooks, codes = self._quantize(x, c.codebook_sizes, None, None, self.method)
            self.tables = PrefixTables.from_codes(codes) if c.adaptive else None
            return self
        head = np.asarray(is_head, dtype=bool)
        n_head = int(head.sum())
        self.tau = resolve_tau(c.tau, c.min_items, n_head) if c.adaptive else 0.0
        anchors, head_codes = self._quantize(x[head], self.head_codebook_sizes, None, None, f"{self.method} head")
        self.tables = PrefixTables.from_codes(head_codes) if c.adaptive else None
        tail = x[~head]
        self.codebooks, _ = self._quantize(tail, c.codebook_sizes, self.tables, anchors, f"{self.method} tail")
        return self

    # ------------------------------------------------------------------------------------------ encode

    def encode(self, vectors: np.ndarray, *, is_head: np.ndarray | None = None) -> Codes:
        """Codes of any vectors, new items included. With ACRQ, items flagged `is_head` use anchors only."""
        x = check_vectors(vectors, source="vectors", dim=self.dim).copy()
        n, L = x.shape[0], len(self.codebooks)
        head = np.zeros(n, dtype=bool) if is_head is None or not self.config.anchored else np.asarray(is_head, bool)
        full = np.empty((n, L), dtype=np.int32)
        for layer, cb in enumerate(self.codebooks):
            full[:, layer] = nearest(cb, x)
            if head.any():
                n_anchor = self.head_codebook_sizes[layer]
                full[head, layer] = nearest(cb[:n_anchor], x[head])
            x -= cb[full[:, layer]]
        if self.config.adaptive:
            assert self.tables is not None
            return apply_depths(full, self.tables, self.tau)
        return Codes.full(full)

    def with_tau(self, tau: float) -> AdaptiveRQ:
        """The same fitted model with another depth budget (codebooks untouched)."""
        other = copy.copy(self)
        other.tau = float(tau)
        return other

    def decode(self, codes: Codes) -> np.ndarray:
        codes.validate(self.codebook_sizes)
        return sum_codebooks(self.codebooks, codes)

    # ------------------------------------------------------------------------------------------ persist

    def save(self, path: str | Path) -> Path:
        tensors = {f"codebook_{i}": cb for i, cb in enumerate(self.codebooks)}
        if self.tables is not None:
            tensors.update(self.tables.to_tensors())
        return write_folder(path, self.method, self.config, tensors, dim=self.dim, tau=self.tau)

    @classmethod
    def load(cls, path: str | Path) -> AdaptiveRQ:
        payload, tensors = read_folder(path)
        tok = cls(AdaptiveRQConfig(**payload["config"]))
        L = len(tok.config.codebook_sizes)
        tok.codebooks = [tensors[f"codebook_{i}"] for i in range(L)]
        tok.tau = float(payload["tau"])
        if tok.config.adaptive:
            tok.tables = PrefixTables.from_tensors(tensors, L)
        return tok
