"""The generative retriever's backbone and its inputs.

A T5-style encoder-decoder (Hugging Face ``T5ForConditionalGeneration`` built from a config: trained
from scratch, since no weights can be downloaded) whose vocabulary is the text tokenizer's (the WordPiece
vocabulary bundled with MiniLM by default) followed by the SID tokens (semid.retrieve.vocab). Inputs are
query text, or a user's history as the SID tokens of its items, each item closed by EOS, as in "Recommender
Systems with Generative Retrieval" (TIGER, arXiv:2305.05065).
A local Hugging Face T5 checkpoint can replace the from-scratch model (``pretrained``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from semid.errors import MissingResourceError
from semid.retrieve.vocab import SIDVocab
from semid.sid.table import SIDTable


@dataclass
class ModelConfig:
    d_model: int = 256  # hidden size
    d_ff: int = 1024  # feed-forward size
    num_layers: int = 4  # encoder layers
    num_decoder_layers: int = 2  # decoder layers (SIDs are short)
    num_heads: int = 4
    d_kv: int | None = None  # size of each attention head; None: d_model // num_heads
    dropout: float = 0.1
    max_input_tokens: int = 64  # query tokens (or history SID tokens, most recent kept)
    text_tokenizer: str | None = None  # local tokenizer folder; None: MiniLM's bundled WordPiece (or pretrained's)
    pretrained: str | None = None  # local Hugging Face T5 checkpoint (with its tokenizer) to start from


TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "tokenizer.model",
    "spiece.model",
    "sentencepiece.bpe.model",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
)


def load_text_tokenizer(path: str | None) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    if path is None:
        from semid.embed.encoder import default_model_path

        folder = default_model_path()
    else:
        folder = Path(path)
        if not folder.is_dir():
            raise MissingResourceError(f"{folder}: no local tokenizer folder (semid never downloads)")
        if not any((folder / name).is_file() for name in TOKENIZER_FILES):  # transformers would invent a default
            raise MissingResourceError(
                f"{folder}: not a Hugging Face tokenizer folder (no tokenizer files: any of "
                f"{', '.join(TOKENIZER_FILES)})"
            )
    try:
        return AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError) as exc:  # a model folder without tokenizer files
        raise MissingResourceError(f"{folder}: not a Hugging Face tokenizer folder ({exc})") from None


def build_model(cfg: ModelConfig, vocab: SIDVocab) -> Any:
    """A T5 encoder-decoder over text + SID tokens (pad 0 doubles as the decoder start token)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import T5Config, T5ForConditionalGeneration

    if cfg.pretrained is not None:
        if not Path(cfg.pretrained).is_dir():
            raise MissingResourceError(f"{cfg.pretrained}: no local checkpoint folder (semid never downloads)")
        model = T5ForConditionalGeneration.from_pretrained(cfg.pretrained)
        model.resize_token_embeddings(vocab.size)
        model.config.eos_token_id = vocab.eos
        return model
    options: dict[str, Any] = dict(
        vocab_size=vocab.size,
        d_model=cfg.d_model,
        d_ff=cfg.d_ff,
        num_layers=cfg.num_layers,
        num_decoder_layers=cfg.num_decoder_layers,
        num_heads=cfg.num_heads,
        d_kv=cfg.d_kv or cfg.d_model // cfg.num_heads,
        dropout_rate=cfg.dropout,
        pad_token_id=0,
        eos_token_id=vocab.eos,
        decoder_start_token_id=0,
        tie_word_embeddings=True,
    )
    return T5ForConditionalGeneration(T5Config(**options))


class InputEncoder:
    """Turns queries (text) or histories (item ids) into padded input-id tensors."""

    def __init__(self, cfg: ModelConfig, vocab: SIDVocab, table: SIDTable, text_tokenizer: Any) -> None:
        self.cfg, self.vocab, self.table, self.tok = cfg, vocab, table, text_tokenizer
        self._item_tokens: list[list[int]] | None = None

    def item_tokens(self) -> list[list[int]]:
        """SID tokens (with EOS) of every item in table order."""
        if self._item_tokens is None:
            self._item_tokens = self.vocab.tokens(self.table.item_codes())
        return self._item_tokens

    def text(self, queries: list[str]) -> list[list[int]]:
        for i, q in enumerate(queries):
            if not isinstance(q, str) or not q.strip():
                raise ValueError(f"query {i} is empty")
        enc = self.tok(queries, truncation=True, max_length=self.cfg.max_input_tokens, add_special_tokens=True)
        return [list(ids) for ids in enc["input_ids"]]

    def history(self, histories: list[list[str]]) -> list[list[int]]:
        tokens = self.item_tokens()
        out = []
        for i, hist in enumerate(histories):
            if not hist:
                raise ValueError(f"history {i} is empty")
            rows = self.table.lookup(hist)
            seq = [t for r in rows for t in tokens[int(r)]]
            out.append(seq[-self.cfg.max_input_tokens :])
        return out


def pad_batch(seqs: list[list[int]], device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    width = max(1, max(len(s) for s in seqs))
    ids = np.zeros((len(seqs), width), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
    t = torch.from_numpy(ids).to(device)
    return t, (t != 0).long()


def sid_logits(model: Any, hidden: torch.Tensor, vocab: SIDVocab) -> torch.Tensor:
    """Decoder states -> logits over the SID tokens only (EOS + codes, in ``vocab.local()`` ids).

    The decoder never emits text, so the text rows of the output layer (most of a 30k vocabulary) are
    skipped: the same softmax for training and decoding, at a fraction of the cost."""
    config = model.config
    if getattr(config, "scale_decoder_outputs", getattr(config, "tie_word_embeddings", False)):
        hidden = hidden * (config.d_model**-0.5)
    weight = model.lm_head.weight[vocab.base : vocab.base + vocab.n_sid_tokens]
    return hidden @ weight.T


def sid_loss(
    model: Any, input_ids: torch.Tensor, mask: torch.Tensor, targets: torch.Tensor, vocab: SIDVocab
) -> torch.Tensor:
    """Cross-entropy of the target SID tokens (full-vocabulary ids, 0 = padding) under the SID-only softmax."""
    start = torch.zeros_like(targets[:, :1])
    decoder_input = torch.cat([start, targets[:, :-1]], dim=1)
    enc = model.get_encoder()(input_ids=input_ids, attention_mask=mask).last_hidden_state
    dec = model.get_decoder()(
        input_ids=decoder_input, encoder_hidden_states=enc, encoder_attention_mask=mask, use_cache=False
    ).last_hidden_state
    logits = sid_logits(model, dec, vocab)
    labels = torch.where(targets > 0, targets - vocab.base, torch.full_like(targets, -100))
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1))


class SIDLoss(torch.nn.Module):
    """The training objective as a module, so that DistributedDataParallel can wrap it."""

    def __init__(self, model: Any, vocab: SIDVocab) -> None:
        super().__init__()
        self.model, self.vocab = model, vocab

    def forward(self, input_ids: torch.Tensor, mask: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return sid_loss(self.model, input_ids, mask, targets, self.vocab)
