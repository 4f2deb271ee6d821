"""`Retriever.search`: queries (or histories) -> SIDs by constrained beam search -> items.

A retriever artifact is a folder: ``model/`` (the backbone's weights as safetensors and its JSON config),
``sid_table/`` and ``retriever.json`` (backbone, model config, vocabulary layout, input kind). Two ways to
order a query's items (``rank``): "beam" (default), each returned SID expands to its items in popularity order
until k items are collected, every item carrying its SID's beam score; "exact" (minilm backbone), the beam's
SIDs are the candidates and the items behind them are ordered by their own vectors' inner product with the
model's query vector, as an IVF-PQ index refines its coarse candidates with exact distances. For text queries
that is the frozen MiniLM's vector, also when MiniLM's top layers are fine-tuned (``finetune_layers``): the item
vectors come from the frozen encoder, and a fine-tuned query vector would leave their space. ``cold_share`` keeps
a share of each list for items added after training, found through the generated SIDs' prefixes
(semid.retrieve.cold: which items are cold, how they are found and where they go).
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from semid.codes import Codes
from semid.cold_share import DEFAULT_COLD_SHARE, check_cold
from semid.errors import DataError, MissingResourceError
from semid.files import TABLE_DIR
from semid.retrieve.backbones import Backbone, MiniLMBackbone
from semid.retrieve.beam import BeamResult, TrieTensors, beam_search
from semid.retrieve.cold import ColdIndex, cold_after, fill_slots, load_cold, save_cold, slot_positions
from semid.retrieve.t5_backbone import T5Backbone
from semid.sid.table import SIDTable
from semid.sid.trie import SIDTrie

ARTIFACT_META = "retriever.json"
RANKS = ("beam", "exact")  # how a query's items are ordered: by their SID's beam score, or by item vector


@dataclass
class SearchResult:
    item_ids: list[str]
    scores: list[float]  # their SID's beam score (a cold slot's item: its prefix's), or query . item (rank exact)
    sids: list[tuple[int, ...]]  # each item's SID
    n_sids_generated: int  # finished beams (valid or not)
    n_hallucinated: int  # finished beams whose SID matches no item (unconstrained mode)
    in_cold_slot: list[bool] = field(default_factory=list)  # per item: it fills a cold slot (`cold_share`)


class Retriever:
    """A trained backbone over a SID table: constrained beam search, then each SID's items."""

    def __init__(self, backbone: Backbone, table: SIDTable, cold: np.ndarray | None = None) -> None:
        """`cold`: which of the table's items the model was never trained on (default: none)."""
        self.backbone, self.table = backbone, table
        self._cold = np.zeros(table.n_items, dtype=bool) if cold is None else np.asarray(cold, dtype=bool)
        if self._cold.shape != (table.n_items,):
            raise ValueError(f"cold must have one flag per table item ({table.n_items}), got {self._cold.shape}")
        self.vocab, self.input_kind = backbone.vocab, backbone.input_kind
        self.model = backbone.model
        self.device = next(self.model.parameters()).device
        self.trie = TrieTensors.from_trie(SIDTrie.from_table(table), self.device)
        self._sid_matrix = table.sid_code_matrix()  # int32 arrays: no Python object per SID, even at 10M items

    def with_table(self, table: SIDTable) -> Retriever:
        """The same model over another SID table (e.g. after `semid assign` added cold-start items); DataError
        for a table it cannot stand for (`semid.retrieve.table_fit.check_table_fits`). Its items that the model
        was not trained on are cold (`cold`)."""
        return Retriever(self.backbone.with_table(table), table, cold_after(self.table, self.cold, table))

    @property
    def cold(self) -> np.ndarray:
        """[table items] bool: the items the model was never trained on (see semid.retrieve.cold)."""
        return self._cold

    @property
    def ranks(self) -> tuple[str, ...]:
        """The item orders this retriever can give (`expand`): "exact" needs item vectors (minilm backbone)."""
        return RANKS if isinstance(self.backbone, MiniLMBackbone) else ("beam",)

    def add_item_vectors(self, item_ids: list[str], vectors: np.ndarray) -> None:
        """Give items added after training (`with_table`, cold start) their own vectors (the embedding the
        model's catalogue came from), so history inputs and rank "exact" read them, not their SIDs' rows."""
        if not isinstance(self.backbone, MiniLMBackbone):
            raise DataError(f"the {self.backbone.name} backbone reads no item vectors")
        self.backbone.add_item_vectors(item_ids, vectors)

    def encode_inputs(self, queries: list[str] | None = None, histories: list[list[str]] | None = None) -> list[Any]:
        if (queries is None) == (histories is None):
            raise ValueError("pass queries or histories")
        return self.backbone.encode(queries, histories)

    def generate(self, inputs: list[Any], beam: int = 20, constrained: bool = True) -> BeamResult:
        """Beam search for per-example inputs from `encode_inputs`."""
        if beam < 1:
            raise ValueError(f"beam must be >= 1, got {beam}")
        self.model.eval()
        step = self.backbone.step_fn(inputs, beam)
        return beam_search(step, len(inputs), self.vocab.local(), self.trie, beam, constrained, self.device)

    def _candidates(self, res: BeamResult, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
        """Each query's valid SIDs, best first, expanded to their items (most popular first) until k items:
        the items' table rows, their SIDs' scores and SIDs, and where each query's items start and end."""
        offsets, sids = self.table.sid_offsets.astype(np.int64), res.sids.astype(np.int64)
        first = offsets[sids.clip(min=0)]
        sizes = np.where(sids >= 0, offsets[sids.clip(min=0) + 1] - first, 0)
        taken = np.clip(k - (np.cumsum(sizes, axis=1) - sizes), 0, sizes).ravel()  # items each SID contributes
        n_taken = int(taken.sum())
        within = np.arange(n_taken) - np.repeat(np.cumsum(taken) - taken, taken)  # 0, 1, ... inside each SID
        rows = self.table.sid_items[np.repeat(first.ravel(), taken) + within]
        bounds = np.concatenate([[0], np.cumsum(taken.reshape(sids.shape).sum(axis=1))]).tolist()
        return rows, np.repeat(res.scores.ravel(), taken), np.repeat(sids.ravel(), taken), bounds

    def expand(
        self,
        res: BeamResult,
        k: int,
        rank: str = "beam",
        inputs: list[Any] | None = None,
        *,
        cold_share: float = 0.0,
        cold_order: str | None = None,
    ) -> list[SearchResult]:
        """Each query's items: rank "beam": its valid SIDs, best first, expanded to their items (most popular
        first) until k items, each scored by its SID's beam score; rank "exact": every item behind those SIDs,
        ordered by the inner product of the model's query vector (for `inputs`, the inputs `res` came from) and
        the item's own vector, the k best (the beam generates the candidates, the item vectors rank them).
        `cold_share` in [0, 1]: the most of each top-n that may go to cold items found through the generated
        SIDs' prefixes, in the slots semid.retrieve.cold places them in; `cold_order` "prefix" or "vector"
        orders them (None: "prefix" for rank beam, "vector" for rank exact). 0: no cold slots."""
        return self.expand_ranks(res, k, [rank], inputs, cold_share=cold_share, cold_order=cold_order)[rank]

    def expand_ranks(
        self,
        res: BeamResult,
        k: int,
        ranks: Sequence[str],
        inputs: list[Any] | None = None,
        *,
        cold_share: float = 0.0,
        cold_order: str | None = None,
    ) -> dict[str, list[SearchResult]]:
        """`expand` in each of `ranks` (rank -> each query's items) from one pass over the beams' items: with
        "exact" among them every item behind the SIDs is gathered once, and rank "beam" is its first k."""
        unknown = [r for r in ranks if r not in RANKS]
        if unknown:
            raise ValueError(f"rank must be one of {', '.join(RANKS)}, got {unknown[0]!r}")
        check_cold(cold_share, cold_order)
        orders_of = {r: cold_order or ("vector" if r == "exact" else "prefix") for r in ranks}
        positions = slot_positions(cold_share if self.cold.any() else 0.0, k)
        every = "vector" in orders_of.values()  # cold candidates: all of them, to be ordered by vector
        by_vector = "exact" in ranks or (len(positions) > 0 and every)
        queries = matrix = np.zeros((0, 0), dtype=np.float32)
        if by_vector:
            queries, matrix = self._vectors(inputs, res, "exact" if "exact" in ranks else "vector")
        rows, scores, sids, bounds = self._candidates(res, self.table.n_items if "exact" in ranks else k)
        found = self._cold_index.candidates(res, None if every else len(positions)) if len(positions) else []
        vectors = [matrix[c.rows] @ queries[b] for b, c in enumerate(found)] if by_vector else None
        orders = {}
        for rank in ranks:
            if rank == "exact":
                pick, ranked = self._exact_order(rows, bounds, k, queries, matrix)
            else:  # the candidates come in beam order: each query's first k
                pick, ranked = [np.arange(lo, min(hi, lo + k)) for lo, hi in itertools.pairwise(bounds)], None
            at = np.concatenate(pick) if pick else np.zeros(0, dtype=np.int64)
            sizes = [len(p) for p in pick]
            items = rows[at], scores[at] if ranked is None else ranked.astype(scores.dtype), sids[at]
            in_slot = np.zeros(len(at), dtype=bool)
            if len(positions):
                ranked_by = (orders_of[rank], vectors, rank == "exact")
                items, sizes, in_slot = fill_slots(items, sizes, found, ranked_by, positions, k)
            orders[rank] = self._results(res, *items, sizes, in_slot)
        return orders

    @functools.cached_property
    def _cold_index(self) -> ColdIndex:
        return ColdIndex(self.table, self.cold)

    def _vectors(self, inputs: list[Any] | None, res: BeamResult, what: str) -> tuple[np.ndarray, np.ndarray]:
        """(query vectors [B, dim], item vectors [items, dim]) to compare (rank "exact", cold order "vector")."""
        name = "rank 'exact'" if what == "exact" else "cold order 'vector'"
        if inputs is None or len(inputs) != res.sids.shape[0]:
            raise ValueError(f"{name} needs the inputs the beam search ran on")
        if not isinstance(self.backbone, MiniLMBackbone):
            raise DataError(f"{name} needs item vectors: the {self.backbone.name} backbone has none")
        return self.backbone.query_vectors(inputs), self.backbone.item_matrix()

    @staticmethod
    def _exact_order(
        rows: np.ndarray, bounds: list[int], k: int, queries: np.ndarray, matrix: np.ndarray
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Per query, the positions of its k candidates with the largest query . item vector, best first, and
        those inner products."""
        pick, ranked = [], []
        for b, (lo, hi) in enumerate(itertools.pairwise(bounds)):
            exact = matrix[rows[lo:hi]] @ queries[b]
            best = np.argsort(-exact, kind="stable")[:k]
            pick.append(lo + best)
            ranked.append(exact[best])
        return pick, np.concatenate(ranked) if ranked else np.zeros(0, dtype=np.float32)

    def _results(
        self,
        res: BeamResult,
        rows: np.ndarray,
        scores: np.ndarray,
        sids: np.ndarray,
        sizes: list[int],
        in_slot: np.ndarray,
    ) -> list[SearchResult]:
        """Each query's SearchResult: the next `sizes[b]` of the items' table rows, scores, SIDs and cold slot
        flags."""
        bounds = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).tolist()
        item_ids = self.table.item_ids.take(pa.array(rows, type=pa.int64())).to_pylist()
        item_scores, item_slots = scores.tolist(), in_slot.tolist()
        sid_idx = np.asarray(sids, dtype=np.int64)
        item_sids = Codes(self._sid_matrix.codes[sid_idx], self._sid_matrix.lengths[sid_idx]).to_lists()
        finished = np.isfinite(res.scores)
        n_generated = finished.sum(axis=1).tolist()
        n_hallucinated = (finished & (res.sids < 0)).sum(axis=1).tolist()
        return [
            SearchResult(
                item_ids[lo:hi],
                item_scores[lo:hi],
                item_sids[lo:hi],
                n_generated[b],
                n_hallucinated[b],
                item_slots[lo:hi],
            )
            for b, (lo, hi) in enumerate(itertools.pairwise(bounds))
        ]

    def search(
        self,
        queries: list[str] | None = None,
        k: int = 10,
        *,
        histories: list[list[str]] | None = None,
        beam: int = 20,
        constrained: bool = True,
        batch_size: int = 64,
        rank: str = "beam",
        cold_share: float = DEFAULT_COLD_SHARE,
        cold_order: str | None = None,
    ) -> list[SearchResult]:
        """Top-k items for each query (text) or history (item ids, oldest first); `rank`, `cold_share` and
        `cold_order`: see `expand` (unlike it, cold slots by default: DEFAULT_COLD_SHARE)."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if rank not in RANKS:
            raise ValueError(f"rank must be one of {', '.join(RANKS)}, got {rank!r}")
        check_cold(cold_share, cold_order)
        inputs = self.encode_inputs(queries, histories)
        results: list[SearchResult] = []
        for start in range(0, len(inputs), batch_size):
            batch = inputs[start : start + batch_size]
            res = self.generate(batch, beam, constrained)
            results.extend(self.expand(res, k, rank, batch, cold_share=cold_share, cold_order=cold_order))
        return results

    # ------------------------------------------------------------------------------------------ persist

    def save(self, path: str | Path) -> Path:
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        self.backbone.save(out / "model")
        self.table.save(out / TABLE_DIR)
        save_cold(out, self.table, self.cold)
        meta = {
            "backbone": self.backbone.name,
            "model_config": self.backbone.config(),
            "vocab_base": self.vocab.base,
            "codebook_sizes": list(self.vocab.codebook_sizes),
            "input_kind": self.input_kind,
        }
        (out / ARTIFACT_META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return out

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> Retriever:
        root = Path(path)
        if not (root / ARTIFACT_META).exists():
            raise MissingResourceError(f"{root / ARTIFACT_META}: missing; is {root} a retriever made by `semid train`?")
        meta = json.loads((root / ARTIFACT_META).read_text(encoding="utf-8"))
        dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
        table = SIDTable.load(root / TABLE_DIR)
        if list(meta["codebook_sizes"]) != list(table.codebook_sizes):
            raise DataError("the SID table's codebooks differ from the model's vocabulary", source=str(root))
        backbone: Backbone
        if meta.get("backbone", "t5") == "t5":  # artifacts written before backbones existed are T5
            backbone = T5Backbone.load(root / "model", table, meta, dev)
        else:
            backbone = MiniLMBackbone.load(root / "model", table, dev)
        return cls(backbone, table, load_cold(root, table))
