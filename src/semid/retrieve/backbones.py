"""The retriever's two backbones behind one interface: what the Retriever, training and serving call.

- ``minilm`` (default): semid.retrieve.sid_model — frozen MiniLM query vectors (text) or the items' content
  vectors and SID tokens (history), and a small SID decoder. Learns in CPU-minutes.
- ``t5``: a T5 encoder-decoder over WordPiece + SID tokens trained from scratch (the setting of "Recommender
  Systems with Generative Retrieval", arXiv:2305.05065), or any local Hugging Face T5 checkpoint
  (semid.retrieve.model).

A backbone turns raw queries or histories into per-example inputs (``encode``), batches them with target
SIDs into the tensors its loss module takes (``collate``), and gives beam search its step function.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from semid.errors import DataError, MissingResourceError
from semid.retrieve.beam import StepFn
from semid.retrieve.model import InputEncoder, ModelConfig, SIDLoss, load_text_tokenizer, pad_batch, sid_logits
from semid.retrieve.sid_decode import sid_step_fn
from semid.retrieve.sid_model import SIDModel, SIDModelConfig
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
        self._stored: dict[str, np.ndarray] = {}
        if self.input_kind == "history":
            self._attach_items()

    def _attach_items(self) -> None:
        """Content vector and SID tokens of every table item; items without a stored vector (cold-start items
        added after training) are represented by the sum of their tokens' output rows."""
        codes = self.table.item_codes()
        offsets = np.array([self.vocab.layer_start(t) for t in range(codes.n_layers)])
        tokens = np.where(codes.codes >= 0, codes.codes + offsets[None, :], 0)
        tok = torch.from_numpy(tokens.astype(np.int64))
        with torch.no_grad():
            vectors = self.model.out_rows.detach().cpu()[tok].sum(dim=1)
        slots = torch.full((len(tokens),), self.model.n_items, dtype=torch.long)
        stored = getattr(self, "stored_vectors", None)
        if stored is not None:  # the training catalogue: its vectors and, in its order, its learned embeddings
            ids, vecs = stored
            row_of = {x: i for i, x in enumerate(self.table.item_ids.to_pylist())}
            rows = np.array([row_of.get(x, -1) for x in ids], dtype=np.int64)
            keep = rows >= 0
            vectors[torch.from_numpy(rows[keep])] = vecs[torch.from_numpy(np.flatnonzero(keep))]
            slots[torch.from_numpy(rows[keep])] = torch.from_numpy(np.flatnonzero(keep))
        self.model.set_items(vectors, tok, slots)

    def store_item_vectors(self, item_ids: list[str], vectors: np.ndarray) -> None:
        self.stored_vectors = (list(item_ids), torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32)))
        self._attach_items()

    def embed(self, texts: list[str], cache: bool = False, show_progress: bool = False) -> np.ndarray:
        """Texts -> frozen MiniLM vectors; ``cache``: through semid's on-disk vector cache (training data)."""
        from semid.embed.encoder import EncoderConfig, TextEncoder

        if self._text_encoder is None:
            self._text_encoder = TextEncoder(EncoderConfig(model=self.encoder_name, use_cache=False))
        self._text_encoder.config.use_cache = cache
        return np.asarray(self._text_encoder.encode(list(texts), show_progress=show_progress))

    def encode(self, queries: list[str] | None, histories: list[list[str]] | None) -> list[Any]:
        if queries is not None:
            if self.input_kind != "text":
                raise DataError("this retriever was trained on histories; pass histories, not query text")
            _check_queries(queries)
            return list(self.embed(queries))
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

    def input_tensor(self, inputs: list[Any], device: torch.device) -> torch.Tensor:
        if self.input_kind == "text":
            return torch.from_numpy(np.stack(inputs).astype(np.float32)).to(device)
        width = max(len(r) for r in inputs)
        rows = np.full((len(inputs), width), -1, dtype=np.int64)
        for i, r in enumerate(inputs):
            rows[i, width - len(r) :] = r  # left padding: the most recent item is always the last position
        return torch.from_numpy(rows).to(device)

    def collate(self, inputs: list[Any], targets: list[list[int]], device: torch.device) -> tuple[torch.Tensor, ...]:
        width = max(len(t) for t in targets)
        tgt = np.full((len(targets), width), -100, dtype=np.int64)
        for i, t in enumerate(targets):
            tgt[i, : len(t)] = t
        return self.input_tensor(inputs, device), torch.from_numpy(tgt).to(device)

    def step_fn(self, inputs: list[Any], beam: int) -> StepFn:
        return sid_step_fn(self.model, self.input_tensor(inputs, self.model.out_rows.device), beam)

    def with_table(self, table: SIDTable) -> Backbone:
        other = MiniLMBackbone.__new__(MiniLMBackbone)
        other.__dict__.update(self.__dict__)
        other.table = table
        if self.input_kind == "history":
            other._attach_items()
        return other

    def config(self) -> dict[str, Any]:
        return {"backbone": self.name, "encoder": self.encoder_name, **asdict(self.model.cfg)}

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        stored = getattr(self, "stored_vectors", None)
        if stored is not None:
            tensors["stored_item_vectors"] = stored[1]
            (folder / "stored_item_ids.json").write_text(json.dumps(stored[0]), encoding="utf-8")
        save_file(tensors, str(folder / "model.safetensors"))
        meta = {"config": self.config(), "dim": self.model.dim, "input_kind": self.input_kind}
        if self.input_kind == "history":
            meta["n_items"] = self.model.n_items
        (folder / "config.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, table: SIDTable, device: str) -> MiniLMBackbone:
        meta = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        cfg = {k: v for k, v in meta["config"].items() if k not in ("backbone", "encoder")}
        vocab = SIDVocab(0, tuple(table.codebook_sizes))
        model = SIDModel(SIDModelConfig(**cfg), vocab, int(meta["dim"]), meta["input_kind"], meta.get("n_items", 0))
        tensors = load_file(str(folder / "model.safetensors"))
        stored = tensors.pop("stored_item_vectors", None)
        model.load_state_dict(tensors)
        backbone = cls(model.to(device).eval(), table, meta["config"]["encoder"])
        if stored is not None:
            ids = json.loads((folder / "stored_item_ids.json").read_text(encoding="utf-8"))
            backbone.store_item_vectors(ids, stored.numpy())
        return backbone


# ---------------------------------------------------------------------------------------------------- t5


def t5_step_fn(model: Any, ids: torch.Tensor, mask: torch.Tensor, beam: int, vocab: SIDVocab) -> StepFn:
    """A beam-search step over a Hugging Face encoder-decoder: the encoder runs once, the decoder feeds only
    the newest token and reorders its KV cache to follow the beams; log-probabilities are over the SID
    tokens only (``vocab.local()`` ids)."""
    with torch.no_grad():
        enc = model.get_encoder()(input_ids=ids, attention_mask=mask).last_hidden_state
    enc = enc.repeat_interleave(beam, dim=0)
    mask = mask.repeat_interleave(beam, dim=0)
    decoder = model.get_decoder()
    state: dict[str, Any] = {"cache": None}

    def step(prefix: torch.Tensor, reorder: torch.Tensor | None) -> torch.Tensor:
        cache = state["cache"]
        full = prefix + vocab.base  # local 0 is EOS, which also pads finished beams
        if cache is None or reorder is None:
            start = torch.zeros((prefix.shape[0], 1), dtype=torch.long, device=prefix.device)
            tokens, past = torch.cat([start, full], dim=1), None
        else:
            cache.reorder_cache(reorder)
            tokens, past = full[:, -1:], cache
        with torch.no_grad():
            out = decoder(
                input_ids=tokens,
                encoder_hidden_states=enc,
                encoder_attention_mask=mask,
                past_key_values=past,
                use_cache=True,
            )
            state["cache"] = out.past_key_values
            return torch.log_softmax(sid_logits(model, out.last_hidden_state[:, -1], vocab).float(), dim=-1)

    return step


class T5Backbone:
    name = "t5"

    def __init__(self, model: Any, table: SIDTable, vocab: SIDVocab, cfg: ModelConfig, input_kind: str) -> None:
        self.model, self.table, self.vocab, self.cfg, self.input_kind = model, table, vocab, cfg, input_kind
        self.inputs = InputEncoder(cfg, vocab, table, load_text_tokenizer(cfg.text_tokenizer))

    def encode(self, queries: list[str] | None, histories: list[list[str]] | None) -> list[Any]:
        if queries is not None:
            return self.inputs.text(queries)
        assert histories is not None
        return self.inputs.history(histories)

    def loss_module(self) -> torch.nn.Module:
        return SIDLoss(self.model, self.vocab)

    def collate(self, inputs: list[Any], targets: list[list[int]], device: torch.device) -> tuple[torch.Tensor, ...]:
        ids, mask = pad_batch(inputs, device)
        labels, _ = pad_batch(targets, device)
        return ids, mask, labels

    def step_fn(self, inputs: list[Any], beam: int) -> StepFn:
        ids, mask = pad_batch(inputs, next(self.model.parameters()).device)
        return t5_step_fn(self.model, ids, mask, beam, self.vocab)

    def with_table(self, table: SIDTable) -> Backbone:
        return T5Backbone(self.model, table, self.vocab, self.cfg, self.input_kind)

    def config(self) -> dict[str, Any]:
        return {"backbone": self.name, **asdict(self.cfg)}

    def save(self, folder: Path) -> None:
        self.model.save_pretrained(folder)

    @classmethod
    def load(cls, folder: Path, table: SIDTable, meta: dict[str, Any], device: str) -> T5Backbone:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import T5ForConditionalGeneration

        if not (folder / "config.json").exists():
            raise MissingResourceError(f"{folder}: no T5 model files (config.json)")
        t5: Any = T5ForConditionalGeneration
        model = t5.from_pretrained(str(folder)).to(device)
        vocab = SIDVocab(int(meta["vocab_base"]), tuple(meta["codebook_sizes"]))
        cfg = {k: v for k, v in meta["model_config"].items() if k != "backbone"}
        return cls(model, table, vocab, ModelConfig(**cfg), meta["input_kind"])
