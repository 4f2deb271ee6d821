"""Where SID tokens live in a model's vocabulary.

SID tokens follow the text vocabulary: ``eos = base``, and the token of code c at layer l is
``base + 1 + offset_l + c`` with ``offset_l = M_1 + ... + M_{l-1}``: layer-specific tokens, one EOS that
ends every SID (so a short SID and a longer one can share a prefix).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from semid.codes import Codes


@dataclass(frozen=True)
class SIDVocab:
    base: int  # size of the text vocabulary before the SID tokens
    codebook_sizes: tuple[int, ...]

    @property
    def eos(self) -> int:
        return self.base

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.codebook_sizes)[:-1]]).astype(np.int64)

    @property
    def size(self) -> int:
        """Total vocabulary size: text tokens + EOS + every layer's codes."""
        return self.base + 1 + int(sum(self.codebook_sizes))

    def local(self) -> SIDVocab:
        """The same layout with the text vocabulary cut off: EOS = 0, codes from 1 (the decoder's output space)."""
        return SIDVocab(0, self.codebook_sizes)

    @property
    def n_sid_tokens(self) -> int:
        return 1 + int(sum(self.codebook_sizes))

    def layer_start(self, layer: int) -> int:
        return self.base + 1 + int(self.offsets[layer])

    def tokens(self, codes: Codes, with_eos: bool = True) -> list[list[int]]:
        """Token sequences of codes (each ending with EOS)."""
        offs = self.offsets
        out = []
        for row, n in zip(codes.codes, codes.lengths, strict=True):
            seq = [self.base + 1 + int(offs[layer]) + int(row[layer]) for layer in range(n)]
            out.append([*seq, self.eos] if with_eos else seq)
        return out
