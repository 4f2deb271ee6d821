"""Beam-search steps for SIDModel that do only the work decoding needs (training keeps `SIDModel.scores`).

`SIDModel.scores` runs the whole prefix through the decoder and scores every position against every token,
which is what training wants. Decoding a beam needs much less, and this step computes the same
log-probabilities (up to float rounding) from it:

- **a self-attention cache**: each step feeds only the newest token; the keys and values of the earlier ones
  are kept per beam and reordered to follow the beams;
- **per-query memory**: the W beams of a query share its memory, so the cross-attention keys and values are
  projected once per query (not once per beam and step) and the beams attend as W queries of one batch row;
- **one row per query at the first step**: every beam starts from the same empty prefix;
- **only the tokens allowed at the step** (the layer's codes, EOS after the first code) are scored, and a
  step where only EOS can follow (the last) needs no decoder at all: its log-probability is 0.
"""

from __future__ import annotations

import torch
from torch import nn

from semid.retrieve.beam import StepFn
from semid.retrieve.sid_model import SIDModel


def _heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """[..., S, d] -> [..., heads, S, d / heads]."""
    *lead, s, d = x.shape
    return x.view(*lead, s, n_heads, d // n_heads).transpose(-3, -2)


def _merge(x: torch.Tensor) -> torch.Tensor:
    """[..., heads, S, dh] -> [..., S, heads * dh]."""
    *lead, h, s, dh = x.shape
    return x.transpose(-3, -2).reshape(*lead, s, h * dh)


class _CachedLayer:
    """One `nn.TransformerDecoderLayer` (eval mode) fed one token per row and step."""

    def __init__(self, layer: nn.TransformerDecoderLayer, memory: torch.Tensor, pad: torch.Tensor | None) -> None:
        if not layer.norm_first:
            raise ValueError("the cached decoding step implements pre-norm decoder layers (norm_first=True) only")
        self.layer, self.n_heads = layer, layer.self_attn.num_heads
        cross = layer.multihead_attn
        d = memory.shape[-1]
        assert cross.in_proj_weight is not None and cross.in_proj_bias is not None
        w, b = cross.in_proj_weight, cross.in_proj_bias
        self.q_weight, self.q_bias = w[:d], b[:d]
        keys = nn.functional.linear(memory, w[d : 2 * d], b[d : 2 * d])  # [B, S, d]: once per query
        values = nn.functional.linear(memory, w[2 * d :], b[2 * d :])
        self.mem_k, self.mem_v = _heads(keys, self.n_heads), _heads(values, self.n_heads)  # [B, h, S, dh]
        self.mem_mask = None if pad is None else ~pad[:, None, None, :]  # True = attend
        self.keys: torch.Tensor | None = None  # self-attention cache [rows, h, t, dh]
        self.values: torch.Tensor | None = None

    def _self_attention(self, x: torch.Tensor, parents: torch.Tensor | None) -> torch.Tensor:
        attn = self.layer.self_attn
        assert attn.in_proj_weight is not None
        q, k, v = _heads(nn.functional.linear(x, attn.in_proj_weight, attn.in_proj_bias), 3 * self.n_heads).chunk(
            3, dim=1
        )
        if self.keys is not None and self.values is not None:
            old_k, old_v = (self.keys, self.values) if parents is None else (self.keys[parents], self.values[parents])
            k, v = torch.cat([old_k, k], dim=2), torch.cat([old_v, v], dim=2)
        self.keys, self.values = k, v
        out = nn.functional.scaled_dot_product_attention(q, k, v)  # the newest token sees every earlier one
        return attn.out_proj(_merge(out))

    def _cross_attention(self, x: torch.Tensor) -> torch.Tensor:
        n_queries = self.mem_k.shape[0]
        q = nn.functional.linear(x, self.q_weight, self.q_bias)  # [rows, 1, d]
        q = _heads(q.view(n_queries, -1, q.shape[-1]), self.n_heads)  # the beams of a query: [B, h, W, dh]
        out = nn.functional.scaled_dot_product_attention(q, self.mem_k, self.mem_v, attn_mask=self.mem_mask)
        return self.layer.multihead_attn.out_proj(_merge(out).reshape(x.shape))

    def _feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        layer = self.layer
        return layer.linear2(layer.activation(layer.linear1(x)))

    def __call__(self, x: torch.Tensor, parents: torch.Tensor | None) -> torch.Tensor:
        """x [rows, 1, d]; parents [rows]: the cache row each row continues (None: the cache is aligned)."""
        layer = self.layer  # pre-norm, as SIDModel builds it
        x = x + self._self_attention(layer.norm1(x), parents)
        x = x + self._cross_attention(layer.norm2(x))
        return x + self._feed_forward(layer.norm3(x))


def sid_step_fn(model: SIDModel, inputs: torch.Tensor, beam: int, mask: torch.Tensor | None = None) -> StepFn:
    """The beam-search step of `SIDModel` for a batch of inputs (and token mask; see `SIDModel.encode`),
    `beam` rows each."""
    if model.training:
        raise ValueError("decoding needs the model in eval mode (dropout off)")
    with torch.no_grad():
        memory, pad, query = model.encode(inputs, mask)
        scale = model.log_scale.exp()
    decoder = model.decoder
    final_norm = decoder.norm if decoder.norm is not None else nn.Identity()
    layers = [_CachedLayer(layer, memory, pad) for layer in decoder.layers]
    n_queries, n_tokens = query.shape[0], model.vocab.n_sid_tokens
    bos = torch.full((n_queries, 1), n_tokens, dtype=torch.long, device=query.device)

    def step(prefix: torch.Tensor, reorder: torch.Tensor | None) -> torch.Tensor:
        t = prefix.shape[1]
        allowed = model.allowed[t].nonzero().squeeze(1)
        rows = n_queries if t == 0 else n_queries * beam  # t = 0: one row per query (see beam.StepFn)
        if allowed.numel() == 1:  # only EOS can follow: probability 1 whatever the decoder says; one row shared
            # by all (a read-only expanded view: with atomic IDs a full table would be rows x catalogue floats)
            only = torch.full((1, n_tokens), float("-inf"), device=query.device).index_fill_(1, allowed, 0.0)
            return only.expand(rows, -1)
        out = torch.full((rows, n_tokens), float("-inf"), device=query.device)
        with torch.no_grad():
            if t == 0:  # every beam starts from BOS: one row per query
                tokens, parents = bos, None
            elif reorder is None:
                raise ValueError("a step after the first needs `reorder` (the beam each row continues)")
            else:  # the cache holds one row per query after the first step, one per beam after that
                tokens, parents = prefix[:, -1:], (reorder if t > 1 else reorder // beam)
            x = model.tok_emb(tokens) + model.step_emb.weight[t]
            for layer in layers:
                x = layer(x, parents)
            h = final_norm(x)[:, 0]
            vectors = (query[:, None, :] + model.out_proj(h).view(n_queries, h.shape[0] // n_queries, -1)).flatten(0, 1)
            logits = scale * vectors @ model.out_rows[allowed].T + model.out_bias[allowed]
            return out.index_copy_(1, allowed, torch.log_softmax(logits.float(), dim=-1))

    return step
