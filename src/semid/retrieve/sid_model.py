"""The default generative retriever: inputs the catalogue already understands, a small SID decoder.

Design intent (a 2-core CPU must train it in minutes):

- **Text queries** are embedded once by the frozen MiniLM (the same encoder as the item vectors, cached on
  disk); the pooled vector becomes a few memory tokens for the decoder to attend to. With ``finetune_layers``
  N > 0 the input is the token states after MiniLM's frozen bottom layers, and the model holds a trainable
  copy of the top N layers that pools them into the query vector (semid.retrieve.query_layers).
- **Histories** are the user's items, each represented by what semid already has about it (its content
  vector, the embeddings of its SID tokens, its position), through a small transformer encoder.
- **The decoder** is a small causal transformer over SID tokens. Its output at each step is a vector in the
  item-vector space, ``h = q + W dec`` (``q``: the query vector, or the last history item's vector plus a
  learned correction), scored against one row per SID token. The rows start as the tokens' *additive code
  vectors* (item vector ≈ sum of its tokens' vectors, fitted by least squares over the catalogue), so an
  untrained model's beam search already ranks SIDs by inner product with the query, dense retrieval over the
  SIDs' reconstructions, and training only has to learn what dense similarity misses.
- Each step's softmax is over the tokens that can occur there (the layer's codes and EOS), in training and
  decoding alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from semid.codes import Codes
from semid.retrieve.vocab import SIDVocab


@dataclass
class SIDModelConfig:
    d_model: int = 128  # width of the history encoder and the SID decoder
    num_heads: int = 4
    encoder_layers: int = 0  # history encoder layers (0: the decoder attends to the history items directly)
    decoder_layers: int = 2
    memory_tokens: int = 4  # text inputs: the pooled query vector becomes this many memory tokens
    max_history: int = 20  # most recent history items kept
    dropout: float = 0.1
    init_scale: float = 20.0  # initial inverse temperature of the output scores (unit-length vectors)
    item_embeddings: bool = True  # histories: also a learned embedding per training item (collaborative signal)
    item_dropout: float = 0.1  # training: share of history items shown without their learned embedding
    # text inputs: train the text encoder's top N layers (and its pooling) with the decoder; 0: it stays frozen
    # and each query is its cached vector (semid.retrieve.query_layers)
    finetune_layers: int = 0


def additive_code_vectors(codes: Codes, vectors: np.ndarray, vocab: SIDVocab, iters: int = 4) -> np.ndarray:
    """One vector per SID token (``vocab.local()`` ids; EOS row 0) such that an item's vector is close to the
    sum of its tokens' vectors: least squares by backfitting, layer after layer. For residual k-means this
    recovers the codebooks; for any other tokenizer (atomic ids, hierarchical k-means, RQ-VAE codes) it gives
    the same kind of semantic starting point."""
    local = vocab.local()
    x = np.asarray(vectors, dtype=np.float64)
    dim = x.shape[1]
    out = np.zeros((local.n_sid_tokens, dim))
    starts = [local.layer_start(layer) for layer in range(len(local.codebook_sizes))]
    present = [codes.lengths > layer for layer in range(len(starts))]
    rows = [starts[layer] + codes.codes[present[layer], layer] for layer in range(len(starts))]
    recon = np.zeros_like(x)
    for _ in range(iters):
        for layer, tok in enumerate(rows):
            mask = present[layer]
            recon[mask] -= out[tok]
            resid = x[mask] - recon[mask]
            sums = np.zeros((local.n_sid_tokens, dim))
            np.add.at(sums, tok, resid)
            counts = np.bincount(tok, minlength=local.n_sid_tokens)[:, None]
            used = counts[:, 0] > 0
            out[used] = sums[used] / counts[used]
            recon[mask] += out[tok]
    return out.astype(np.float32)


def _layer_args(cfg: SIDModelConfig) -> dict[str, object]:
    return dict(
        d_model=cfg.d_model,
        nhead=cfg.num_heads,
        dim_feedforward=4 * cfg.d_model,
        dropout=cfg.dropout,
        batch_first=True,
        norm_first=True,
    )


class SIDModel(nn.Module):
    """Query vector or history -> scores of the next SID token (see the module docstring)."""

    item_vectors: torch.Tensor
    item_tokens: torch.Tensor
    allowed: torch.Tensor

    def __init__(
        self,
        cfg: SIDModelConfig,
        vocab: SIDVocab,
        dim: int,
        input_kind: str,
        n_items: int = 0,
        query_top: nn.Module | None = None,
    ) -> None:
        """``query_top``: with ``cfg.finetune_layers``, the trainable top layers of the text encoder
        (`semid.retrieve.query_layers.trainable_top`)."""
        super().__init__()
        if input_kind not in ("text", "history"):
            raise ValueError(f"input_kind must be 'text' or 'history', got {input_kind!r}")
        if (query_top is not None) != bool(cfg.finetune_layers) or (query_top is not None and input_kind != "text"):
            raise ValueError("the text encoder's top layers go with finetune_layers > 0 and text inputs only")
        self.query_top = query_top  # None registers nothing: the state dict stays as without fine-tuning
        self.cfg, self.vocab, self.dim, self.input_kind = cfg, vocab.local(), dim, input_kind
        self.n_items = n_items if cfg.item_embeddings and input_kind == "history" else 0
        d, n_tok, n_layers = cfg.d_model, self.vocab.n_sid_tokens, len(vocab.codebook_sizes)
        self.tok_emb = nn.Embedding(n_tok + 1, d)  # + BOS (the last row)
        self.step_emb = nn.Embedding(n_layers + 1, d)
        if d % cfg.num_heads:
            raise ValueError(f"d_model ({d}) must be a multiple of num_heads ({cfg.num_heads})")
        layer = nn.TransformerDecoderLayer(**_layer_args(cfg))  # type: ignore[arg-type]
        self.decoder = nn.TransformerDecoder(layer, cfg.decoder_layers, norm=nn.LayerNorm(d))
        self.out_proj = nn.Linear(d, dim)
        nn.init.zeros_(self.out_proj.weight)
        nn.init.zeros_(self.out_proj.bias)
        self.out_rows = nn.Parameter(torch.zeros(n_tok, dim))
        self.out_bias = nn.Parameter(torch.zeros(n_tok))
        self.log_scale = nn.Parameter(torch.tensor(math.log(cfg.init_scale)))
        if input_kind == "text":
            self.memory = nn.Linear(dim, cfg.memory_tokens * d)
        else:
            self.item_in = nn.Linear(dim, d)
            self.pos_emb = nn.Embedding(cfg.max_history, d)
            self.encoder: nn.Module = nn.LayerNorm(d)  # no layers: the decoder attends to the items directly
            if cfg.encoder_layers:
                enc_layer = nn.TransformerEncoderLayer(**_layer_args(cfg))  # type: ignore[arg-type]
                self.encoder = nn.TransformerEncoder(
                    enc_layer, cfg.encoder_layers, norm=nn.LayerNorm(d), enable_nested_tensor=False
                )
            self.query_out = nn.Linear(d, dim)
            nn.init.zeros_(self.query_out.weight)
            nn.init.zeros_(self.query_out.bias)
            self.register_buffer("item_vectors", torch.zeros(0, dim), persistent=False)
            self.register_buffer("item_tokens", torch.zeros(0, n_layers, dtype=torch.long), persistent=False)
            # slot of each table item's learned embedding; items unseen in training share the zero row n_items
            self.item_emb = nn.Embedding(self.n_items + 1, d, padding_idx=self.n_items)
            nn.init.normal_(self.item_emb.weight[: self.n_items], std=0.02)
            self.register_buffer("item_slot", torch.zeros(0, dtype=torch.long), persistent=False)
        # allowed[t, token]: the tokens that can occur at step t (layer t's codes; EOS after the first code)
        allowed = torch.zeros(n_layers + 1, n_tok, dtype=torch.bool)
        for t in range(n_layers):
            start = self.vocab.layer_start(t)
            allowed[t, start : start + vocab.codebook_sizes[t]] = True
        allowed[1:, 0] = True
        self.register_buffer("allowed", allowed, persistent=False)

    def init_output_rows(self, code_vectors: np.ndarray) -> None:
        with torch.no_grad():
            self.out_rows.copy_(torch.from_numpy(code_vectors))

    def set_items(self, item_vectors: torch.Tensor, item_tokens: torch.Tensor, item_slot: torch.Tensor) -> None:
        """History inputs: every catalogue item's content vector, SID tokens (local ids, 0 past the end) and
        learned-embedding slot (``n_items``: none)."""
        self.item_vectors = item_vectors.to(self.out_rows.device)
        self.item_tokens = item_tokens.to(self.out_rows.device)
        self.item_slot = item_slot.clamp(max=self.n_items).to(self.out_rows.device)

    # --------------------------------------------------------------------------------------------- encode

    def encode(
        self, inputs: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """(memory [B, S, d], memory padding mask or None, query vector [B, dim]). Text inputs: query vectors
        [B, dim], or with ``finetune_layers`` the frozen layers' token states [B, T, H] and their ``mask`` [B, T];
        history inputs: table rows [B, H], -1 = padding on the left (most recent last)."""
        if self.input_kind == "text":
            if self.query_top is not None:
                if mask is None:
                    raise ValueError("token states need their attention mask")
                inputs = self.query_top(inputs, mask)
            memory = self.memory(inputs).view(inputs.shape[0], self.cfg.memory_tokens, self.cfg.d_model)
            return memory, None, inputs
        pad = inputs < 0
        rows = inputs.clamp(min=0)
        x = self.item_in(self.item_vectors[rows]) + self.tok_emb(self.item_tokens[rows]).sum(dim=2)
        if self.n_items:
            slots = self.item_slot[rows]
            if self.training and self.cfg.item_dropout > 0:  # so items without an embedding (cold) still work
                drop = torch.rand(slots.shape, device=slots.device) < self.cfg.item_dropout
                slots = slots.masked_fill(drop, self.n_items)
            x = x + self.item_emb(slots)
        # positions count back from the most recent item (as if every history were padded to max_history), so a
        # history's encoding does not depend on the longer histories it is batched with
        width = inputs.shape[1]
        if width > self.cfg.max_history:
            raise ValueError(f"histories of {width} items; this model reads at most {self.cfg.max_history}")
        offset = self.cfg.max_history - width
        x = x + self.pos_emb(torch.arange(offset, offset + width, device=inputs.device))[None]
        x = x.masked_fill(pad[:, :, None], 0.0)
        memory = self.encoder(x, src_key_padding_mask=pad) if self.cfg.encoder_layers else self.encoder(x)
        memory = memory.masked_fill(pad[:, :, None], 0.0)  # fully padded rows would carry NaN otherwise
        query = self.item_vectors[rows[:, -1]] + self.query_out(memory[:, -1])
        return memory, pad, query

    # --------------------------------------------------------------------------------------------- decode

    def scores(
        self, memory: torch.Tensor, pad: torch.Tensor | None, query: torch.Tensor, prefix: torch.Tensor
    ) -> torch.Tensor:
        """Log-probabilities [N, T+1, n_tokens] of the token after each prefix of ``prefix`` [N, T] (local ids),
        the first row being the SID's first token. Tokens that cannot occur at a step get -inf."""
        n, t = prefix.shape
        bos = torch.full((n, 1), self.vocab.n_sid_tokens, dtype=torch.long, device=prefix.device)
        tokens = torch.cat([bos, prefix], dim=1)
        x = self.tok_emb(tokens) + self.step_emb(torch.arange(t + 1, device=prefix.device))[None]
        causal = torch.triu(torch.ones(t + 1, t + 1, dtype=torch.bool, device=prefix.device), diagonal=1)
        h = self.decoder(x, memory, tgt_mask=causal, memory_key_padding_mask=pad)
        out = query[:, None, :] + self.out_proj(h)
        logits = self.log_scale.exp() * out @ self.out_rows.T + self.out_bias
        logits = logits.masked_fill(~self.allowed[: t + 1][None], float("-inf"))
        return torch.log_softmax(logits.float(), dim=-1)

    def loss(self, inputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Cross-entropy of target SIDs [B, T] (local ids ending with EOS, -100 = padding); ``mask``: see
        `encode`."""
        memory, pad, query = self.encode(inputs, mask)
        prefix = targets[:, :-1].clamp(min=0)
        logp = self.scores(memory, pad, query, prefix)
        return nn.functional.nll_loss(logp.reshape(-1, logp.shape[-1]), targets.reshape(-1), ignore_index=-100)

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.loss(inputs, targets, mask)
