"""Beam search over variable-length SIDs, constrained to the SID trie (or not, to measure hallucination).

Everything is tensor work on the model's device with static shapes [batch, beam]: at step t the
candidates of a beam are the layer-t codes, EOS, and "stay" for a beam that already ended. In
constrained mode a code is allowed where the trie has the edge (the children of the live beams' nodes,
scattered into a [batch, beam, codes] table) and EOS where a SID ends at the node. Unconstrained mode
allows every code and EOS after the first token, and still walks the trie so that a finished beam knows
its SID, or -1 when it matches no item (a hallucination).

The score of a beam is the sum of the model's log-probabilities (log-softmax over the whole vocabulary)
of its tokens, EOS included.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from semid.codes import find_sorted
from semid.retrieve.vocab import SIDVocab
from semid.sid.trie import SIDTrie

# (prefix tokens [N, t], reorder [N] or None) -> log-probs [N, vocab]. `reorder[i]` is the row of the previous
# call that row i continues, so a step function can reorder its KV cache and feed only the last token. At the
# first step (t = 0) every beam has the same empty prefix, so N may be one row per query instead of per beam.
StepFn = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]


@dataclass
class TrieTensors:
    edge_key: torch.Tensor
    edge_child: torch.Tensor
    node_sid: torch.Tensor
    key_base: int
    node_offsets: torch.Tensor  # children of node n: edges node_offsets[n]:node_offsets[n + 1]
    edge_code: torch.Tensor

    @classmethod
    def from_trie(cls, trie: SIDTrie, device: torch.device | str = "cpu") -> TrieTensors:
        return cls(
            torch.from_numpy(trie.edge_key).to(device),
            torch.from_numpy(trie.edge_child.astype(np.int64)).to(device),
            torch.from_numpy(trie.node_sid.astype(np.int64)).to(device),
            trie.key_base,
            torch.from_numpy(trie.node_offsets.astype(np.int64)).to(device),
            torch.from_numpy(trie.edge_code.astype(np.int64)).to(device),
        )

    def lookup(self, nodes: torch.Tensor, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """For nodes [...] and codes [...] (broadcast): (edge exists, child node or -1)."""
        keys = nodes * self.key_base + codes
        pos, found = find_sorted(self.edge_key, keys)
        ok = found & (nodes >= 0)
        return ok, torch.where(ok, self.edge_child[pos], torch.full_like(pos, -1))

    def children(self, nodes: torch.Tensor, n_codes: int) -> torch.Tensor:
        """Child of every (node, code) for nodes [...] and codes 0..n_codes-1: [..., n_codes], -1 where the trie
        has no such edge or the node is -1. Work in proportion to the children of the nodes, no search."""
        dev, flat = nodes.device, nodes.reshape(-1)
        start = self.node_offsets[flat.clamp(min=0)]
        count = torch.where(flat >= 0, self.node_offsets[flat.clamp(min=0) + 1] - start, 0)
        row = torch.repeat_interleave(torch.arange(flat.numel(), device=dev), count)
        edge = torch.arange(row.numel(), device=dev) - (count.cumsum(0) - count - start)[row]
        code = self.edge_code[edge]
        keep = code < n_codes  # edges of another layer (a node at another depth): not codes of this step
        out = torch.full((flat.numel(), n_codes), -1, dtype=torch.long, device=dev)
        out[row[keep], code[keep]] = self.edge_child[edge[keep]]
        return out.view(*nodes.shape, n_codes)


@dataclass
class BeamResult:
    """Per query, `beam` SIDs best first. Empty beams have score -inf and length 0."""

    codes: np.ndarray  # [B, W, L] int32, -1 past each length
    lengths: np.ndarray  # [B, W]
    scores: np.ndarray  # [B, W] summed log-probabilities
    sids: np.ndarray  # [B, W] SID index in the table, -1 when the SID matches no item (or the beam is empty)

    def select(self, rows: list[int]) -> BeamResult:
        """The beams of these queries only, in this order."""
        return BeamResult(self.codes[rows], self.lengths[rows], self.scores[rows], self.sids[rows])


@torch.no_grad()
def beam_search(
    step: StepFn,
    batch_size: int,
    vocab: SIDVocab,
    trie: TrieTensors,
    beam_size: int,
    constrained: bool = True,
    device: torch.device | str = "cpu",
    pad_token: int = 0,
) -> BeamResult:
    B, W, L = batch_size, beam_size, len(vocab.codebook_sizes)
    dev = torch.device(device)
    neg = float("-inf")
    scores = torch.full((B, W), neg, device=dev)
    scores[:, 0] = 0.0
    nodes = torch.zeros((B, W), dtype=torch.long, device=dev)
    finished = torch.zeros((B, W), dtype=torch.bool, device=dev)
    lengths = torch.zeros((B, W), dtype=torch.long, device=dev)
    codes = torch.full((B, W, L), -1, dtype=torch.long, device=dev)
    prefix = torch.zeros((B * W, 0), dtype=torch.long, device=dev)
    reorder: torch.Tensor | None = None
    rows = torch.arange(B, device=dev)[:, None] * W
    for t in range(L + 1):
        lp = step(prefix, reorder).float()
        # Only beam 0 is live at t = 0 (the others are copies at -inf): expanding it alone keeps this step at
        # [B, 1, m], not [B, W, m] (for atomic IDs m is the catalogue: 64 x 100 x 117k floats on wordnet).
        width_now = 1 if t == 0 else W
        lp = lp.view(B, -1, lp.shape[-1])[:, :width_now]
        m = vocab.codebook_sizes[t] if t < L else 0
        start = vocab.layer_start(t) if t < L else 0
        code_lp = lp[:, :, start : start + m]  # [B, width_now, m]
        eos_lp = lp[:, :, vocab.eos]
        now_scores, now_nodes, now_finished = scores[:, :width_now], nodes[:, :width_now], finished[:, :width_now]
        live = ~now_finished & torch.isfinite(now_scores)
        if m:
            child = trie.children(torch.where(live, now_nodes, -1), m)
            code_ok = (child >= 0 if constrained else torch.ones_like(child, dtype=torch.bool)) & live[:, :, None]
            code_lp = torch.where(code_ok, code_lp, torch.full_like(code_lp, neg))
        else:
            child = torch.zeros((B, width_now, 0), dtype=torch.long, device=dev)
        safe_nodes = now_nodes.clamp(min=0)
        ends_sid = (trie.node_sid[safe_nodes] >= 0) & (now_nodes >= 0)
        eos_ok = live & (ends_sid if constrained else torch.full_like(live, t >= 1))
        eos_lp = torch.where(eos_ok, eos_lp, torch.full_like(eos_lp, neg))
        stay = torch.where(now_finished, torch.zeros_like(eos_lp), torch.full_like(eos_lp, neg))
        cand = now_scores[:, :, None] + torch.cat([code_lp, eos_lp[:, :, None], stay[:, :, None]], dim=2)
        width = m + 2
        top_scores, top_idx = cand.view(B, width_now * width).topk(min(W, width_now * width), dim=1)
        if top_idx.shape[1] < W:  # fewer candidates than beams: the rest are dead beams ("stay" of beam 0, -inf)
            pad = W - top_idx.shape[1]
            top_scores = torch.cat([top_scores, top_scores.new_full((B, pad), neg)], 1)
            top_idx = torch.cat([top_idx, top_idx.new_full((B, pad), width - 1)], 1)
        parent = top_idx // width
        choice = top_idx % width
        is_code, is_eos = choice < m, choice == m
        parent_nodes = torch.gather(nodes, 1, parent)
        parent_finished = torch.gather(finished, 1, parent)
        parent_len = torch.gather(lengths, 1, parent)
        codes = torch.gather(codes, 1, parent[:, :, None].expand(-1, -1, L)).clone()
        if m:
            chosen_child = torch.gather(child.reshape(B, width_now * m), 1, (parent * m + choice.clamp(max=m - 1)))
        else:
            chosen_child = torch.full_like(parent_nodes, -1)
        nodes = torch.where(is_code, chosen_child, parent_nodes)
        if t < L:
            codes[:, :, t] = torch.where(is_code, choice, codes[:, :, t])
        lengths = parent_len + is_code.long()
        finished = parent_finished | is_eos
        scores = top_scores
        token = torch.where(is_code, start + choice, torch.where(is_eos, vocab.eos, pad_token))
        prefix = torch.cat(
            [prefix.view(B, W, -1).gather(1, parent[:, :, None].expand(-1, -1, t)), token[:, :, None]], 2
        )
        prefix = prefix.view(B * W, t + 1)
        reorder = (rows + parent).view(-1)
        if bool((finished | ~torch.isfinite(scores)).all()):
            break
    valid = finished & torch.isfinite(scores)
    sids = torch.where(valid & (nodes >= 0), trie.node_sid[nodes.clamp(min=0)], torch.full_like(nodes, -1))
    scores = torch.where(valid, scores, torch.full_like(scores, neg))
    lengths = torch.where(valid, lengths, torch.zeros_like(lengths))
    order = scores.argsort(dim=1, descending=True)
    codes = torch.gather(codes, 1, order[:, :, None].expand(-1, -1, L))
    lengths = torch.gather(lengths, 1, order)
    codes = torch.where(torch.arange(L, device=dev)[None, None, :] < lengths[:, :, None], codes, -1)
    return BeamResult(
        codes.cpu().numpy().astype(np.int32),
        lengths.cpu().numpy(),
        torch.gather(scores, 1, order).cpu().numpy(),
        torch.gather(sids, 1, order).cpu().numpy(),
    )
