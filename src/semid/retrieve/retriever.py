"""`Retriever.search`: queries (or histories) -> SIDs by constrained beam search -> items.

A retriever artifact is a folder: ``model/`` (the backbone's weights as safetensors and its JSON config),
``sid_table/`` and ``retriever.json`` (backbone, model config, vocabulary layout, input kind). Each returned
SID expands to its items in popularity order until k items are collected; every item carries its SID's beam
score.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from semid.errors import DataError, MissingResourceError
from semid.files import TABLE_DIR
from semid.retrieve.backbones import Backbone, MiniLMBackbone, T5Backbone
from semid.retrieve.beam import BeamResult, TrieTensors, beam_search
from semid.sid.table import SIDTable
from semid.sid.trie import SIDTrie

ARTIFACT_META = "retriever.json"


@dataclass
class SearchResult:
    item_ids: list[str]
    scores: list[float]  # the beam score of each item's SID
    sids: list[tuple[int, ...]]  # each item's SID
    n_sids_generated: int  # finished beams (valid or not)
    n_hallucinated: int  # finished beams whose SID matches no item (unconstrained mode)


class Retriever:
    """A trained backbone over a SID table: constrained beam search, then each SID's items."""

    def __init__(self, backbone: Backbone, table: SIDTable) -> None:
        self.backbone, self.table = backbone, table
        self.vocab, self.input_kind = backbone.vocab, backbone.input_kind
        self.model = backbone.model
        self.device = next(self.model.parameters()).device
        self.trie = TrieTensors.from_trie(SIDTrie.from_table(table), self.device)
        self._sid_lists = table.sid_code_matrix().to_lists()

    def with_table(self, table: SIDTable) -> Retriever:
        """The same model over another SID table (e.g. after `semid assign` added cold-start items)."""
        if list(table.codebook_sizes) != list(self.vocab.codebook_sizes):
            raise DataError(
                f"the SID table's codebooks {list(table.codebook_sizes)} differ from the model's vocabulary "
                f"{list(self.vocab.codebook_sizes)}",
                source=TABLE_DIR,
            )
        return Retriever(self.backbone.with_table(table), table)

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

    def expand(self, res: BeamResult, k: int) -> list[SearchResult]:
        """Each query's valid SIDs, best first, expanded to their items (most popular first) until k items."""
        offsets, sids = self.table.sid_offsets.astype(np.int64), res.sids.astype(np.int64)
        first = offsets[sids.clip(min=0)]
        sizes = np.where(sids >= 0, offsets[sids.clip(min=0) + 1] - first, 0)
        taken = np.clip(k - (np.cumsum(sizes, axis=1) - sizes), 0, sizes).ravel()  # items each SID contributes
        n_taken = int(taken.sum())
        within = np.arange(n_taken) - np.repeat(np.cumsum(taken) - taken, taken)  # 0, 1, ... inside each SID
        rows = self.table.sid_items[np.repeat(first.ravel(), taken) + within]
        item_ids = self.table.item_ids.take(pa.array(rows, type=pa.int64())).to_pylist()
        item_scores = np.repeat(res.scores.ravel(), taken).tolist()
        item_sids = np.repeat(sids.ravel(), taken).tolist()
        bounds = np.concatenate([[0], np.cumsum(taken.reshape(sids.shape).sum(axis=1))]).tolist()
        finished = np.isfinite(res.scores)
        n_generated, n_hallucinated = finished.sum(axis=1).tolist(), (finished & (sids < 0)).sum(axis=1).tolist()
        return [
            SearchResult(
                item_ids[lo:hi],
                item_scores[lo:hi],
                [self._sid_lists[s] for s in item_sids[lo:hi]],
                n_generated[b],
                n_hallucinated[b],
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
    ) -> list[SearchResult]:
        """Top-k items for each query (text) or history (item ids, oldest first)."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        inputs = self.encode_inputs(queries, histories)
        results: list[SearchResult] = []
        for start in range(0, len(inputs), batch_size):
            res = self.generate(inputs[start : start + batch_size], beam, constrained)
            results.extend(self.expand(res, k))
        return results

    # ------------------------------------------------------------------------------------------ persist

    def save(self, path: str | Path) -> Path:
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        self.backbone.save(out / "model")
        self.table.save(out / TABLE_DIR)
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
        return cls(backbone, table)
