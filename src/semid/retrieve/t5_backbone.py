"""The ``t5`` backbone: a T5 encoder-decoder over WordPiece + SID tokens trained from scratch (the setting of
"Recommender Systems with Generative Retrieval", arXiv:2305.05065), or any local Hugging Face T5 checkpoint
(semid.retrieve.model), behind the Backbone interface of semid.retrieve.backbones."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from semid.errors import MissingResourceError
from semid.retrieve.backbones import Backbone
from semid.retrieve.beam import StepFn
from semid.retrieve.model import InputEncoder, ModelConfig, SIDLoss, load_text_tokenizer, pad_batch, sid_logits
from semid.retrieve.table_fit import check_table_fits
from semid.retrieve.vocab import SIDVocab
from semid.sid.table import SIDTable


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


TEXT_TOKENIZER_DIR = "text_tokenizer"


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
        check_table_fits(self.vocab, self.table, table)
        return T5Backbone(self.model, table, self.vocab, self.cfg, self.input_kind)

    def config(self) -> dict[str, Any]:
        return {"backbone": self.name, **asdict(self.cfg)}

    def save(self, folder: Path) -> None:
        self.model.save_pretrained(folder)
        if self.cfg.text_tokenizer is not None:  # a tokenizer of the user's: the artifact keeps its own copy
            self.inputs.tok.save_pretrained(folder / TEXT_TOKENIZER_DIR)

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
        if (folder / TEXT_TOKENIZER_DIR).is_dir():
            cfg["text_tokenizer"] = str(folder / TEXT_TOKENIZER_DIR)
        return cls(model, table, vocab, ModelConfig(**cfg), meta["input_kind"])
