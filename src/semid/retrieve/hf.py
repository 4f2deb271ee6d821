"""The SID-trie constraint as a Hugging Face ``LogitsProcessor``, for any model's ``generate``.

    processor = SIDConstraint(trie, vocab, prompt_length=1)  # decoder start token of an encoder-decoder
    model.generate(..., logits_processor=LogitsProcessorList([processor]), num_beams=20, max_new_tokens=L + 1)

At every step each row's generated SID tokens are walked down the trie with array lookups (all rows at
once); every token but the allowed codes of the current layer, and EOS where a SID ends, gets -inf.
After EOS only EOS (then padding) is allowed.
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor

from semid.retrieve.beam import TrieTensors
from semid.retrieve.vocab import SIDVocab


class SIDConstraint(LogitsProcessor):
    def __init__(self, trie: TrieTensors, vocab: SIDVocab, prompt_length: int = 1) -> None:
        self.trie, self.vocab, self.prompt_length = trie, vocab, prompt_length

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        gen = input_ids[:, self.prompt_length :]
        n, t = gen.shape
        dev = scores.device
        trie = self.trie  # its tensors must live on the model's device
        nodes = torch.zeros(n, dtype=torch.long, device=dev)
        done = torch.zeros(n, dtype=torch.bool, device=dev)
        for i in range(t):
            tok = gen[:, i]
            done |= tok == self.vocab.eos
            layer_start = self.vocab.layer_start(i) if i < len(self.vocab.codebook_sizes) else 0
            code = tok - layer_start
            _, child = trie.lookup(nodes, code)
            nodes = torch.where(done, nodes, child)
        mask = torch.full_like(scores, float("-inf"))
        L = len(self.vocab.codebook_sizes)
        if t < L:
            m = self.vocab.codebook_sizes[t]
            start = self.vocab.layer_start(t)
            ok, _ = trie.lookup(nodes[:, None], torch.arange(m, device=dev)[None, :])
            mask[:, start : start + m] = torch.where(ok, 0.0, float("-inf"))
        ends = (nodes >= 0) & (trie.node_sid[nodes.clamp(min=0)] >= 0)
        mask[:, self.vocab.eos] = torch.where(ends | done, 0.0, float("-inf"))
        mask[done] = float("-inf")
        mask[done, self.vocab.eos] = 0.0
        out: torch.FloatTensor = scores + mask  # type: ignore[assignment]
        return out
