"""The SARQ / ACRQ staging, written once for both quantizers (residual k-means and the RQ-VAE).

Sec. 2.3 of "Towards Efficient and Generalizable Retrieval: Adaptive Semantic Quantization and Residual
Knowledge Transfer" (arXiv:2602.23978) trains in two stages; :func:`fit_stages` runs them in order:

1. resolve tau, the SARQ budget: ``min_items`` counts over all items, except under SA²CRQ's literal
   ``tail_depth="head_tables"`` rule, where it counts over the head items;
2. head stage: codebooks of ``head_codebook_sizes`` fitted on the head items from scratch, SARQ depths
   from the stage's own prefix counts (without ACRQ this is the only stage, over all items, at the
   final sizes);
3. prefix tables: the SARQ tables {P_l} counted over the head stage's codes;
4. anchors: the head stage's codebooks, frozen;
5. tail stage: every codebook extended to ``codebook_sizes`` on the tail items, anchors untouched,
   depths decided by ``tail_depth`` (semid.tokenize.tail_depth: by default the head's tables or the
   whole catalogue's counts; ``"head_tables"``: the head's tables alone);
6. catalogue tables (``tail_depth="catalogue"``): the head tables plus the tail stage's codes, saved so that
   new items are cut as the fit cut tail items.

A quantizer provides only :meth:`StagedQuantizer.fit_stage`, one stage of fitting.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Generic, Protocol, TypeVar

import numpy as np

from semid.codes import Codes
from semid.errors import DataError
from semid.tokenize.prefix import PrefixTables, cut_codes, resolve_tau, shared_counts
from semid.tokenize.tail_depth import tail_continues, uses_catalogue

# method name -> (adaptive: SARQ depths, anchored: ACRQ stages); without either it is the bare quantizer
VARIANTS = {"sarq": (True, False), "acrq": (False, True), "sa2crq": (True, True)}
VAE_SUFFIX = "_vae"  # the same variants on the RQ-VAE quantizer: sarq_vae, acrq_vae, sa2crq_vae

A = TypeVar("A")  # a stage's codebooks: numpy arrays (residual k-means) or tensors (RQ-VAE)


def variant_name(adaptive: bool, anchored: bool, base: str) -> str:
    """Method name of a quantizer with SARQ/ACRQ switched on or off: rq_kmeans, sarq, acrq, sa2crq
    (on residual k-means) or rq_vae, sarq_vae, acrq_vae, sa2crq_vae."""
    for name, flags in VARIANTS.items():
        if flags == (adaptive, anchored):
            return name + (VAE_SUFFIX if base == "rq_vae" else "")
    return base


class StagingConfig(Protocol):
    """The options both quantizers' configs share (AdaptiveRQConfig, RQVAEConfig)."""

    codebook_sizes: list[int]  # final codes per layer (M)
    adaptive: bool  # SARQ
    anchored: bool  # ACRQ
    tau: float | None  # SARQ budget: continue while P(prefix) > tau
    min_items: int | None  # ...or while >= min_items training items share the prefix
    head_codebook_sizes: list[int] | None  # ACRQ head-stage sizes; None: default_head_sizes
    tail_depth: str  # SA²CRQ: how tail items' depths are decided (semid.tokenize.tail_depth)


@dataclass(frozen=True)
class Stage(Generic[A]):
    """One stage of fitting, as the staging asks a quantizer for it."""

    name: str  # "all" (the only stage), "head" or "tail"
    sizes: list[int]  # codebook size per layer at the end of the stage
    tau: float  # SARQ budget (0.0 without SARQ)
    tables: PrefixTables | None = None  # fixed SARQ depths (tail stage); None: from the stage's own codes
    anchors: A | None = None  # frozen codebooks to extend (tail stage); None: new codebooks
    catalogue: bool = False  # with `tables`: tail items also go on where head + own counts pass tau

    def continues(self, prefixes: np.ndarray) -> np.ndarray:
        """SARQ's decision for this stage's rows (prefixes of one length; rows already stopped carry PAD,
        which no live prefix matches): whether each goes on to the next layer."""
        if self.tables is None:  # the stage's own counts
            return shared_counts(prefixes) > self.tau * prefixes.shape[0]
        if not self.catalogue:
            return self.tables.continues(prefixes, self.tau)
        counts = self.tables.count(prefixes) + shared_counts(prefixes)
        return tail_continues(prefixes, self.tables, self.tau, counts, self.tables.n_train + prefixes.shape[0])

    def cut(self, full: np.ndarray) -> Codes:
        """This stage's rows' full-length codes cut to their SARQ depths."""
        return cut_codes(full, self.continues)


@dataclass(frozen=True)
class HeadStage(Generic[A]):
    """What the head stage hands to the tail stage."""

    anchors: A  # its codebooks, frozen from now on
    tables: PrefixTables | None  # SARQ's tables over its codes (None without SARQ)


class StagedQuantizer(Protocol[A]):
    def fit_stage(self, x: np.ndarray, stage: Stage[A]) -> tuple[A, Codes | None]:
        """Fit `stage` on the vectors `x`; return the codebooks as they end the stage and, under SARQ, the
        codes of `x` cut to their depths (``stage.cut``); without SARQ, None is fine."""
        ...


def default_head_sizes(sizes: list[int]) -> list[int]:
    """M/4, M/2, M, M, ... per layer: small early layers for coarse head semantics (ACRQ's curriculum,
    Sec. 2.2; in Table 2 of the paper above, [512, 512, 4096] limits head-item collisions best)."""
    fractions = [0.25, 0.5] + [1.0] * max(0, len(sizes) - 2)
    return [max(1, int(m * f)) for m, f in zip(sizes, fractions, strict=False)]


def resolve_head_sizes(c: StagingConfig) -> list[int]:
    return list(c.head_codebook_sizes) if c.head_codebook_sizes else default_head_sizes(c.codebook_sizes)


def check_head_stage(
    head_sizes: list[int], sizes: list[int], is_head: np.ndarray | None, n_items: int, method: str = "acrq"
) -> np.ndarray:
    """ACRQ's preconditions: head sizes per layer, never decreasing, within the final sizes; enough head
    items for the head codebooks and some tail items to extend them. Returns the head mask. `method` names
    the tokenizer in the messages (acrq, sa2crq or their RQ-VAE variants)."""
    if len(head_sizes) != len(sizes):
        raise DataError(f"head_codebook_sizes {head_sizes} must have one size per layer", source="config")
    if any(int(h) < 1 for h in head_sizes):
        raise DataError(f"head_codebook_sizes must be positive, got {head_sizes}", source="config")
    if any(b < a for a, b in pairwise(head_sizes)):
        raise DataError(f"head_codebook_sizes must not decrease layer to layer, got {head_sizes}", source="config")
    if any(h > m for h, m in zip(head_sizes, sizes, strict=True)):
        raise DataError(f"head_codebook_sizes {head_sizes} exceed codebook_sizes {sizes}", source="config")
    if is_head is None or not np.any(is_head):
        raise DataError(
            f"{method} needs head items (ACRQ fits its first codebooks on them) but no item is head: the items' "
            "'popularity' is 0 everywhere. Give the items a popularity (e.g. interactions per item) and import "
            "them again (`semid data import`), or use a method without ACRQ (rq_kmeans, sarq)"
        )
    head = np.asarray(is_head, dtype=bool)
    if head.shape != (n_items,):
        raise DataError(f"is_head has shape {head.shape}, expected ({n_items},)", source="is_head")
    if head.all():
        raise DataError(
            f"{method} needs tail items too, but every item is head: import again with a lower --head-coverage",
            source="is_head",
        )
    if int(head.sum()) < head_sizes[0]:
        raise DataError(
            f"{method}: {int(head.sum())} head items are fewer than the first head codebook ({head_sizes[0]}); "
            "pass smaller --head-codebook-sizes (or --codebook-sizes), or import with a higher --head-coverage",
            source="is_head",
        )
    return head


Depths = tuple[float, PrefixTables | None, PrefixTables | None]  # tau, tables, catalogue tables (or None)


def fit_stages(
    quantizer: StagedQuantizer[A],
    x: np.ndarray,
    is_head: np.ndarray | None,
    c: StagingConfig,
    head_done: HeadStage[A] | None = None,
    method: str = "acrq",
) -> Depths:
    """Fit `quantizer` on `x` stage by stage as `c` asks; returns tau and the prefix tables that decide
    every later item's depth: the (head) stage's and, for SA²CRQ's ``"catalogue"`` tail rule, the whole
    catalogue's. `head_done`: the head stage's outcome when it is already done (a resumed tail stage), so
    only the tail stage runs; `method`: the tokenizer's name, for error messages."""
    if not c.anchored:
        tau = resolve_tau(c.tau, c.min_items, x.shape[0]) if c.adaptive else 0.0
        _, codes = quantizer.fit_stage(x, Stage("all", list(c.codebook_sizes), tau))
        return tau, _tables(codes, c.adaptive), None
    head = check_head_stage(resolve_head_sizes(c), c.codebook_sizes, is_head, x.shape[0], method)
    catalogue = uses_catalogue(c)
    tau = resolve_tau(c.tau, c.min_items, x.shape[0] if catalogue else int(head.sum())) if c.adaptive else 0.0
    if head_done is None:
        anchors, head_codes = quantizer.fit_stage(x[head], Stage("head", resolve_head_sizes(c), tau))
        head_done = HeadStage(anchors, _tables(head_codes, c.adaptive))
    tail = Stage("tail", list(c.codebook_sizes), tau, head_done.tables, head_done.anchors, catalogue)
    _, tail_codes = quantizer.fit_stage(x[~head], tail)
    if not catalogue:
        return tau, head_done.tables, None
    assert head_done.tables is not None and tail_codes is not None, "a SARQ stage returns its codes"
    return tau, head_done.tables, head_done.tables.merged(PrefixTables.from_codes(tail_codes))


def _tables(codes: Codes | None, adaptive: bool) -> PrefixTables | None:
    if not adaptive:
        return None
    assert codes is not None, "a SARQ stage returns its codes"
    return PrefixTables.from_codes(codes)
