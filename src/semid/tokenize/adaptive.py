"""SARQ, ACRQ and SA²CRQ on residual k-means: Sec. 2 of "Towards Efficient and Generalizable Retrieval:
Adaptive Semantic Quantization and Residual Knowledge Transfer" (arXiv:2602.23978), whose stages
semid.tokenize.staging runs; this module fits one stage (AdaptiveRQ.fit_stage).

- SARQ (``adaptive``): layer l >= 2 is fitted on, and assigned to, only the items whose prefix of length
  l-1 has P > tau (see semid.tokenize.prefix); the prefix tables are saved and decide new items' depths.
- ACRQ (``anchored``): stage 1 fits the head items with codebook sizes ``head_codebook_sizes``
  (M_1 <= ... <= M_L); stage 2 extends every layer to ``codebook_sizes`` with the head codes frozen as
  anchors and only the extension trained, on the tail items (semid.tokenize.rq_kmeans.anchored_kmeans).
- SA²CRQ (both): stage 1 = ACRQ head stage + SARQ over head items, giving the head tables; stage 2 =
  ACRQ tail stage where tail depths follow ``tail_depth`` (semid.tokenize.tail_depth: by default the head
  tables or the whole catalogue's counts).

Head items are encoded on the anchors only (``encode(x, is_head=...)``), so the tail stage and later
cold-start assignments never move a head item's SID. The k-means quantizer is used here; the RQ-VAE
quantizer with the same options lives in semid.tokenize.rq_vae.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from semid.codes import PAD, Codes
from semid.embed.vectors import check_fit_vectors, check_vectors
from semid.errors import DataError
from semid.tokenize.base import read_folder, write_folder
from semid.tokenize.prefix import PrefixTables, depth_budget
from semid.tokenize.rq_kmeans import anchored_kmeans, check_codebook_sizes, fit_codebook, nearest, sum_codebooks
from semid.tokenize.staging import Stage, fit_stages, resolve_head_sizes, variant_name
from semid.tokenize.tail_depth import (
    CATALOGUE,
    DepthRule,
    check_tail_depth,
    load_catalogue,
    with_legacy_tail_depth,
)


@dataclass
class AdaptiveRQConfig:
    codebook_sizes: list[int] = field(default_factory=lambda: [256, 256, 256])  # final codes per layer (M)
    adaptive: bool = True  # SARQ: variable depth from prefix probabilities
    anchored: bool = False  # ACRQ: head stage, then tail stage on frozen anchors
    tau: float | None = None  # SARQ budget: continue while P(prefix) > tau
    min_items: int | None = None  # ...or continue while >= min_items items share the prefix (neither: 8)
    head_codebook_sizes: list[int] | None = None  # ACRQ head-stage sizes; default M/4, M/2, M, ... (capped)
    tail_depth: str = CATALOGUE  # SA²CRQ tail depths: "catalogue" or "head_tables" (semid.tokenize.tail_depth)
    n_iter: int = 20  # k-means / Lloyd iterations per layer
    seed: int = 0
    max_points_per_centroid: int = 256
    show_progress: bool = True

    def __post_init__(self) -> None:
        self.tau, self.min_items = depth_budget(self.tau, self.min_items)
        check_tail_depth(self.tail_depth)


class AdaptiveRQ:
    """Adaptive-length (SARQ), anchored (ACRQ) or both (SA²CRQ) residual k-means."""

    def __init__(self, config: AdaptiveRQConfig | None = None) -> None:
        self.config = config or AdaptiveRQConfig()
        self.codebooks: list[np.ndarray] = []
        self.tables: PrefixTables | None = None
        self.catalogue: PrefixTables | None = None  # SA²CRQ, tail_depth "catalogue": counts over all items
        self.tau: float = 0.0

    @property
    def method(self) -> str:
        return variant_name(self.config.adaptive, self.config.anchored, "rq_kmeans")

    @property
    def codebook_sizes(self) -> list[int]:
        return list(self.config.codebook_sizes)

    @property
    def head_codebook_sizes(self) -> list[int]:
        return resolve_head_sizes(self.config)

    @property
    def dim(self) -> int:
        if not self.codebooks:
            raise RuntimeError("tokenizer is not fitted; call fit() or load() first")
        return int(self.codebooks[0].shape[1])

    # ------------------------------------------------------------------------------------------ fit

    def fit(self, vectors: np.ndarray, *, is_head: np.ndarray | None = None) -> AdaptiveRQ:
        x = check_fit_vectors(vectors, source="vectors")
        if is_head is not None and np.asarray(is_head).shape != (x.shape[0],):
            raise DataError(
                f"is_head has shape {np.asarray(is_head).shape}, expected ({x.shape[0]},)", source="is_head"
            )
        check_codebook_sizes(self.config.codebook_sizes, x.shape[0])
        self.tau, self.tables, self.catalogue = fit_stages(self, x, is_head, self.config, method=self.method)
        return self

    def fit_stage(self, x: np.ndarray, stage: Stage[list[np.ndarray]]) -> tuple[list[np.ndarray], Codes]:
        """Fit one stage layer by layer on `x` (semid.tokenize.staging). Under SARQ, depths follow
        ``stage.continues`` as each layer is fitted (the stage's own prefix counts, the head's tables, or
        both). With ``stage.anchors``, each layer keeps them and fits only its extension (ACRQ's tail stage)."""
        c = self.config
        n, L = x.shape[0], len(stage.sizes)
        residual = x.copy()
        codes = np.full((n, L), PAD, dtype=np.int32)
        alive = np.ones(n, dtype=bool)
        codebooks: list[np.ndarray] = []
        desc = self.method if stage.name == "all" else f"{self.method} {stage.name}"
        for layer in tqdm(range(L), desc=desc, disable=not c.show_progress):
            if layer > 0 and c.adaptive:
                alive &= stage.continues(codes[:, :layer])
            seed = c.seed + layer
            if stage.anchors is None:
                cb = fit_codebook(residual[alive], stage.sizes[layer], c.n_iter, seed, c.max_points_per_centroid)
            else:
                anchors = stage.anchors[layer]
                n_new = stage.sizes[layer] - anchors.shape[0]
                cb = anchored_kmeans(residual[alive], anchors, n_new, c.n_iter, seed, c.max_points_per_centroid)
            labels = nearest(cb, residual[alive])
            codes[alive, layer] = labels
            residual[alive] -= cb[labels]
            codebooks.append(cb)
        self.codebooks = codebooks
        lengths = (codes != PAD).sum(axis=1).astype(np.int32)
        return codebooks, Codes(codes, lengths)

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
            return DepthRule(self.tables, self.tau, self.catalogue).cut(full, head)
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
        for name, tables in (("prefix", self.tables), ("catalogue", self.catalogue)):
            if tables is not None:
                tensors.update(tables.to_tensors(name))
        return write_folder(path, self.method, self.config, tensors, dim=self.dim, tau=self.tau)

    @classmethod
    def load(cls, path: str | Path) -> AdaptiveRQ:
        payload, tensors = read_folder(path)
        tok = cls(AdaptiveRQConfig(**with_legacy_tail_depth(payload["config"])))
        L = len(tok.config.codebook_sizes)
        tok.codebooks = [tensors[f"codebook_{i}"] for i in range(L)]
        tok.tau = float(payload["tau"])
        if tok.config.adaptive:
            tok.tables = PrefixTables.from_tensors(tensors, L)
            tok.catalogue = load_catalogue(tensors, L, tok.config)
        return tok
