"""The retriever's two backbones behind one interface: what the Retriever, training and serving call.

- ``minilm`` (default): semid.retrieve.sid_model — frozen MiniLM query vectors (text; or with
  ``finetune_layers`` MiniLM's top layers trained over its frozen bottom layers' cached token states) or the
  items' content vectors and SID tokens (history), and a small SID decoder. Learns in CPU-minutes.
- ``t5``: a T5 encoder-decoder trained from scratch or from a local checkpoint (semid.retrieve.t5_backbone).

A backbone turns raw queries or histories into per-example inputs (``encode``), batches them with target
SIDs into the tensors its loss module takes (``collate``), and gives beam search its step function.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from safetensors.torch import load_file, save_file

from semid.embed.encoder import EncoderConfig, TextEncoder
from semid.errors import DataError
from semid.retrieve.beam import StepFn
from semid.retrieve.query_layers import BottomLayers, TopLayers, frozen_top, pad_states, trainable_top
from semid.retrieve.sid_decode import sid_step_fn
from semid.retrieve.sid_model import SIDModel, SIDModelConfig
from semid.retrieve.table_fit import check_table_fits
from semid.retrieve.vocab import SIDVocab
from semid.sid.table import SIDTable

BACKBONES = ("minilm", "t5")


class Backbone(Protocol):
    name: str
    input_kind: str  # "text" or "history"
    vocab: SIDVocab
    model: Any  # the trainable torch module (its parameters are what the optimizer sees)

    def encode(self, queries: list[str] | None, histories: list[list[str]] | None) -> list[Any]: ...

    def loss_module(self) -> torch.nn.Module: ...

    def collate(
        self, inputs: list[Any], targets: list[list[int]], device: torch.device
    ) -> tuple[torch.Tensor, ...]: ...

    def step_fn(self, inputs: list[Any], beam: int) -> StepFn: ...

    def with_table(self, table: SIDTable) -> Backbone: ...

    def config(self) -> dict[str, Any]: ...

    def save(self, folder: Path) -> None: ...


def _check_queries(queries: list[str]) -> None:
    for i, q in enumerate(queries):
        if not isinstance(q, str) or not q.strip():
            raise ValueError(f"query {i} is empty")


# ---------------------------------------------------------------------------------------------------- minilm


class MiniLMBackbone:
    name = "minilm"

    def __init__(self, model: SIDModel, table: SIDTable, encoder: str = "minilm", text_encoder: Any = None) -> None:
        self.model, self.table, self.encoder_name = model, table, encoder
        self.input_kind, self.vocab = model.input_kind, SIDVocab(0, model.vocab.codebook_sizes)
        self._text_encoder = text_encoder  # loaded on first use
        self._bottom: BottomLayers | None = None  # finetune_layers: the text encoder's frozen bottom layers
        self._frozen_top: TopLayers | None = None  # and its own (frozen) top layers, for rank "exact"
        # (item ids as an arrow array: no Python object per item, vectors) of the training catalogue...
        self.stored_vectors: tuple[pa.Array, torch.Tensor] | None = None
        self.added_vectors: tuple[pa.Array, torch.Tensor] | None = None  # ...and of items added after training
        self._item_matrix: np.ndarray | None = None
        if self.input_kind == "history":
            self._attach_items()

    def _attach_items(self) -> None:
        """Vector and SID tokens of every table item: its stored vector (the training catalogue's, or one added
        with `add_item_vectors`), else the sum of its SID tokens' output rows. History models read them as
        inputs; both kinds rank by them in `item_matrix`."""
        codes = self.table.item_codes()
        offsets = np.array([self.vocab.layer_start(t) for t in range(codes.n_layers)])
        tok = torch.from_numpy(np.where(codes.codes >= 0, codes.codes + offsets[None, :], 0).astype(np.int64))
        with torch.no_grad():
            rows_out = self.model.out_rows.detach().cpu()
            vectors = sum((rows_out[tok[:, t]] for t in range(tok.shape[1])), torch.zeros(len(tok), self.model.dim))
        slots = torch.full((len(tok),), self.model.n_items, dtype=torch.long)
        for stored in (self.stored_vectors, self.added_vectors):
            if stored is None:
                continue
            rows = self._table_rows(stored[0])
            keep = torch.from_numpy(np.flatnonzero(rows >= 0))
            vectors[torch.from_numpy(rows[rows >= 0])] = stored[1][keep]
            if stored is self.stored_vectors:  # the training catalogue, in its order: its learned embeddings
                slots[torch.from_numpy(rows[rows >= 0])] = keep
        if self.input_kind == "history":
            self.model.set_items(vectors, tok, slots)
        self._item_matrix = vectors.numpy()

    def _table_rows(self, item_ids: pa.Array) -> np.ndarray:
        """Each id's row in the table, -1 for an id it does not hold (arrow's hash join: no dict of all ids)."""
        ids = self.table.item_ids
        rows = pc.index_in(item_ids.cast(ids.type), value_set=ids)
        return rows.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)

    def store_item_vectors(self, item_ids: list[str], vectors: np.ndarray) -> None:
        """The training catalogue's vectors (rows as `item_ids`; a history model's learned embeddings follow
        this order)."""
        vecs = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
        self.stored_vectors = (pa.array(item_ids, type=pa.string()), vecs)
        self._attach_items()

    def add_item_vectors(self, item_ids: list[str], vectors: np.ndarray) -> None:
        """Vectors of items added after training (cold-start items, from the same embedding as the training
        catalogue's), used for them instead of the sum of their SID tokens' rows."""
        vecs = np.ascontiguousarray(vectors, dtype=np.float32)
        if vecs.shape != (len(item_ids), self.model.dim) or not np.isfinite(vecs).all():
            raise DataError(
                f"item vectors of shape {vecs.shape} (finite) expected ({len(item_ids)}, {self.model.dim})",
                source="item_vectors",
            )
        self.added_vectors = (pa.array(item_ids, type=pa.string()), torch.from_numpy(vecs))
        self._attach_items()

    def item_matrix(self) -> np.ndarray:
        """[table items, dim]: the vector each table item is ranked by (see `_attach_items`)."""
        if self._item_matrix is None:
            self._attach_items()
        assert self._item_matrix is not None
        return self._item_matrix

    def query_vectors(self, inputs: list[Any]) -> np.ndarray:
        """[B, dim]: the query vector per input that rank "exact" compares with `item_matrix`: text, the
        query's frozen MiniLM vector (also with ``finetune_layers``: the item vectors come from the frozen
        encoder, and so stay in its space); history, the last item's vector plus the model's learned correction."""
        with torch.no_grad():
            n_top = self.model.cfg.finetune_layers
            if n_top:
                if self._frozen_top is None:
                    self._frozen_top = frozen_top(self.text_encoder().sentence_transformer(), n_top)
                device = next(self._frozen_top.parameters()).device
                return self._frozen_top(*pad_states(inputs, device)).float().cpu().numpy()
            _, _, query = self.model.encode(*self.model_inputs(inputs, self.model.out_rows.device))
        return query.float().cpu().numpy()

    def text_encoder(self) -> TextEncoder:
        """The frozen text encoder (semid.embed.TextEncoder), loaded on first use."""
        if self._text_encoder is None:
            self._text_encoder = TextEncoder(EncoderConfig(model=self.encoder_name, use_cache=False))
        return self._text_encoder

    def embed(self, texts: list[str], cache: bool = False, show_progress: bool = False) -> np.ndarray:
        """Texts -> frozen MiniLM vectors; ``cache``: through semid's on-disk vector cache (training data)."""
        encoder = self.text_encoder()
        encoder.config.use_cache = cache
        return np.asarray(encoder.encode(list(texts), show_progress=show_progress))

    def text_inputs(self, texts: list[str], cache: bool = False, show_progress: bool = False) -> list[Any]:
        """Per text, the model's input: its frozen MiniLM vector (``cache``: see `embed`), or with
        ``finetune_layers`` its token states after the frozen bottom layers, computed here once per text (for
        training data: before the first epoch, kept in memory)."""
        if not self.model.cfg.finetune_layers:
            return list(self.embed(texts, cache=cache, show_progress=show_progress))
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"text {i} is empty; every item and query needs non-empty text")
        if self._bottom is None:
            self._bottom = BottomLayers(self.text_encoder().sentence_transformer(), self.model.cfg.finetune_layers)
        return self._bottom(list(texts), show_progress=show_progress)

    def encode(self, queries: list[str] | None, histories: list[list[str]] | None) -> list[Any]:
        if queries is not None:
            if self.input_kind != "text":
                raise DataError("this retriever was trained on histories; pass histories, not query text")
            _check_queries(queries)
            return self.text_inputs(queries)
        if self.input_kind != "history":
            raise DataError("this retriever was trained on query text; pass queries, not histories")
        assert histories is not None
        out = []
        for i, hist in enumerate(histories):
            if not hist:
                raise ValueError(f"history {i} is empty")
            out.append(self.table.lookup(hist)[-self.model.cfg.max_history :].astype(np.int64))
        return out

    def loss_module(self) -> torch.nn.Module:
        return self.model

    def model_inputs(self, inputs: list[Any], device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(inputs, token mask or None) as `SIDModel.encode` takes them."""
        if self.input_kind == "text" and self.model.cfg.finetune_layers:
            return pad_states(inputs, device)
        if self.input_kind == "text":
            return torch.from_numpy(np.stack(inputs).astype(np.float32)).to(device), None
        width = max(len(r) for r in inputs)
        rows = np.full((len(inputs), width), -1, dtype=np.int64)
        for i, r in enumerate(inputs):
            rows[i, width - len(r) :] = r  # left padding: the most recent item is always the last position
        return torch.from_numpy(rows).to(device), None

    def collate(self, inputs: list[Any], targets: list[list[int]], device: torch.device) -> tuple[torch.Tensor, ...]:
        width = max(len(t) for t in targets)
        tgt = np.full((len(targets), width), -100, dtype=np.int64)
        for i, t in enumerate(targets):
            tgt[i, : len(t)] = t
        x, mask = self.model_inputs(inputs, device)
        return (x, torch.from_numpy(tgt).to(device)) + ((mask,) if mask is not None else ())

    def step_fn(self, inputs: list[Any], beam: int) -> StepFn:
        x, mask = self.model_inputs(inputs, self.model.out_rows.device)
        return sid_step_fn(self.model, x, beam, mask)

    def with_table(self, table: SIDTable) -> Backbone:
        check_table_fits(self.vocab, self.table, table)
        other = MiniLMBackbone.__new__(MiniLMBackbone)
        other.__dict__.update(self.__dict__)
        other.table, other._item_matrix = table, None
        if self.input_kind == "history":
            other._attach_items()
        return other

    def config(self) -> dict[str, Any]:
        cfg = asdict(self.model.cfg)
        if not cfg["finetune_layers"]:  # as before the option existed: same retriever.json, resumable checkpoints
            del cfg["finetune_layers"]
        return {"backbone": self.name, "encoder": self.encoder_name, **cfg}

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        for name, stored in (("stored", self.stored_vectors), ("added", self.added_vectors)):
            if stored is not None:
                tensors[f"{name}_item_vectors"] = stored[1]
                (folder / f"{name}_item_ids.json").write_text(json.dumps(stored[0].to_pylist()), encoding="utf-8")
        save_file(tensors, str(folder / "model.safetensors"))
        meta = {"config": self.config(), "dim": self.model.dim, "input_kind": self.input_kind}
        if self.input_kind == "history":
            meta["n_items"] = self.model.n_items
        (folder / "config.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, table: SIDTable, device: str) -> MiniLMBackbone:
        meta = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        cfg = {k: v for k, v in meta["config"].items() if k not in ("backbone", "encoder")}
        vocab, model_cfg = SIDVocab(0, tuple(table.codebook_sizes)), SIDModelConfig(**cfg)
        text_encoder, top = None, None
        if model_cfg.finetune_layers:  # the bundled (or local) encoder's top layers, then the saved fine-tuned weights
            text_encoder = TextEncoder(EncoderConfig(model=meta["config"]["encoder"], use_cache=False))
            top = trainable_top(text_encoder.sentence_transformer(), model_cfg.finetune_layers)
        dim, kind = int(meta["dim"]), meta["input_kind"]
        model = SIDModel(model_cfg, vocab, dim, kind, meta.get("n_items", 0), query_top=top)
        tensors = load_file(str(folder / "model.safetensors"))
        stored, added = tensors.pop("stored_item_vectors", None), tensors.pop("added_item_vectors", None)
        model.load_state_dict(tensors)
        backbone = cls(model.to(device).eval(), table, meta["config"]["encoder"], text_encoder)
        if stored is not None:
            ids = json.loads((folder / "stored_item_ids.json").read_text(encoding="utf-8"))
            backbone.store_item_vectors(ids, stored.numpy())
        if added is not None:
            ids = json.loads((folder / "added_item_ids.json").read_text(encoding="utf-8"))
            backbone.add_item_vectors(ids, added.numpy())
        return backbone
