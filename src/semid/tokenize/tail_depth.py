"""SA²CRQ's depth rule for tail items (``tail_depth``): Sec. 2.3 of "Towards Efficient and Generalizable
Retrieval: Adaptive Semantic Quantization and Residual Knowledge Transfer" (arXiv:2602.23978).

Stage 2 of the paper cuts tail codes with "the head priors {P_l^H} learned in Stage 1". Read literally
(``"head_tables"``: tau over head items, and a prefix the head never saw has P = 0 and stops), every tail
item on an extension code stops at depth 1. With a head of a few percent of the catalogue that piles
hundreds to thousands of items on one SID: wordnet (117k items, 5% head, default min_items) gets 13.6 items
per SID on average and a 99.9% quantile of 1,201, where the paper's Table 2 reports 1.6-1.7 and 28-32.

The default, ``"catalogue"``, keeps the paper's mechanism (a depth from path probability under one budget
tau, Sec. 2.1; head priors deciding where the head has evidence, Sec. 2.3) and reaches its granularity
(wordnet: 1.87 items per SID, 99.9% quantile 15; head codes 3.0 layers, tail 2.55):

- tau is one probability budget over the whole catalogue (``min_items`` resolves against all items), as
  the paper's tau of 5e-7..2e-6 is on its 5M items; the head stage applies it to the head's P^H;
- a head item's depth is the head stage's: ``P^H(prefix) > tau`` on the head tables, so the tail stage
  moves no head code (the anchors stay what ACRQ made them);
- a tail item goes on where the head has the evidence (``P^H(prefix) > tau``, the head priors) or where
  the whole catalogue has it: ``P(prefix) > tau`` with P over head and tail items together (the head
  tables plus the tail stage's own codes). Prefixes on extension codes, of which the head knows nothing,
  are budgeted exactly as SARQ alone budgets every prefix (Sec. 2.1).

Measured against the brief's reading "head tables for anchor-only prefixes, catalogue counts for prefixes
with an extension code", this rule gives the same granularity (wordnet 1.87 vs 1.87 items per SID) and
one more guarantee: every SID shorter than L holds at most ``tau * n_items`` items (fewer than
``min_items``). A tail item stops at a prefix only where the catalogue's count is within the budget, and
the head items stopping there number at most ``tau * n_head``. (The anchor-only reading let 19 wordnet
items share a short SID at min_items 8: tail items that land on an anchor prefix the head never saw.)
Full-length SIDs are the last layer's collisions, which no depth rule bounds.

The tables this needs at encode time (the head's and the catalogue's) are saved with the tokenizer, so a
new item (cold start, ``semid assign``) is cut as a tail item of the fit was. On the RQ-VAE quantizer,
head codes stay put because ``freeze_encoder_in_tail`` (the default) keeps the encoder as the head stage
left it; without it the tail stage moves the encoder under them. Folders and checkpoints saved before
the option existed have no ``tail_depth`` in their config and keep ``"head_tables"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from semid.codes import Codes
from semid.errors import DataError
from semid.tokenize.prefix import PrefixTables, cut_codes

CATALOGUE = "catalogue"  # the default: head priors or the whole catalogue's counts, tau over all items
HEAD_TABLES = "head_tables"  # the literal rule: head tables only, tau over head items
TAIL_DEPTHS = (CATALOGUE, HEAD_TABLES)
LEGACY_TAIL_DEPTH = HEAD_TABLES  # a config saved before `tail_depth` existed used this rule


def check_tail_depth(tail_depth: str) -> str:
    if tail_depth not in TAIL_DEPTHS:
        raise DataError(f"tail_depth must be one of {TAIL_DEPTHS}, got {tail_depth!r}", source="config")
    return tail_depth


def with_legacy_tail_depth(config: dict[str, Any]) -> dict[str, Any]:
    """A saved config as it was meant: without ``tail_depth`` it predates the option (the old rule)."""
    return {"tail_depth": LEGACY_TAIL_DEPTH, **config}


class DepthOptions(Protocol):
    adaptive: bool
    anchored: bool
    tail_depth: str


def uses_catalogue(c: DepthOptions) -> bool:
    """Whether a tokenizer of these options has catalogue tables: SA²CRQ under the ``"catalogue"`` rule."""
    return c.adaptive and c.anchored and check_tail_depth(c.tail_depth) == CATALOGUE


def load_catalogue(tensors: dict[str, np.ndarray], n_layers: int, c: DepthOptions) -> PrefixTables | None:
    """The catalogue tables saved with a tokenizer of options `c` (None when its rule has none)."""
    if not uses_catalogue(c):
        return None
    if "catalogue_n_train" not in tensors:
        raise DataError(
            "tail_depth is 'catalogue' but the tokenizer's tensors hold no catalogue tables; fit it again",
            source="tensors.safetensors",
        )
    return PrefixTables.from_tensors(tensors, n_layers, "catalogue")


def tail_continues(
    prefixes: np.ndarray, head: PrefixTables, tau: float, catalogue_counts: np.ndarray, n_catalogue: int
) -> np.ndarray:
    """The ``"catalogue"`` rule for tail items: their prefix is probable enough among head items (the head
    priors) or in the whole catalogue (`catalogue_counts` items of `n_catalogue` share it)."""
    return head.continues(prefixes, tau) | (catalogue_counts > tau * n_catalogue)


@dataclass(frozen=True)
class DepthRule:
    """SARQ depths of a fitted tokenizer: its tables, budget and (SA²CRQ, ``"catalogue"``) the catalogue's."""

    tables: PrefixTables  # the only stage's tables, or the head stage's ({P_l^H})
    tau: float
    catalogue: PrefixTables | None = None  # counts over head and tail items; None: `tables` decide for all

    def continues(self, prefixes: np.ndarray, is_head: np.ndarray | None = None) -> np.ndarray:
        """Whether rows with these prefixes go on to the next layer; head rows follow the head tables only."""
        by_tables = self.tables.continues(prefixes, self.tau)
        if self.catalogue is None:
            return by_tables
        tail = tail_continues(prefixes, self.tables, self.tau, self.catalogue.count(prefixes), self.catalogue.n_train)
        return tail if is_head is None else np.where(is_head, by_tables, tail)

    def cut(self, full: np.ndarray, is_head: np.ndarray | None = None) -> Codes:
        """Full-length codes [n, L] cut to their depths; `is_head` marks head rows (ACRQ's anchors-only codes)."""
        return cut_codes(full, lambda prefixes: self.continues(prefixes, is_head))
