"""Hourglass fixes as post-processing of any fixed-length tokenizer, from "Breaking the Hourglass
Phenomenon of Residual Quantization: Enhancing the Upper Bound of Generative Retrieval" (arXiv:2407.21488).

- ``drop_layer2`` (its Sec. 4.1, heuristic method): every code loses its layer-2 token; position 2 then
  holds layer-3 tokens, and so on.
- ``top_k`` (its Sec. 4.2, variable-length SIDs): only items whose layer-2 token is among the K most
  frequent (the "super-routers") lose it.
  Tokens stay layer-specific, so every position p from 2 to L-1 has its own vocabulary of M_p + M_{p+1}:
  code ``c < M_p`` is layer-p token c, code ``M_p + c`` is layer-(p+1) token c of an item that skipped
  layer 2. Such items have length L-1, the others keep L. (Before, positions after the second held both
  layers' codes unshifted, so with 4+ layers one token meant two layers; ``layer_specific_tail: false`` in a
  saved config keeps that reading for folders written then.)

Decoding puts back the most frequent top-K layer-2 token where it was dropped (the best single guess).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from semid.codes import PAD, Codes
from semid.errors import DataError
from semid.tokenize.base import CONFIG_FILE, Tokenizer, read_folder, write_folder

MODES = ("drop_layer2", "top_k")


@dataclass
class HourglassConfig:
    mode: str = "top_k"  # drop_layer2 or top_k
    top_k: int = 32  # with top_k: how many of the most frequent layer-2 tokens are dropped
    layer_specific_tail: bool = True  # top_k: positions after the second shift the next layer's codes too


class HourglassFix:
    """Wraps a fixed-length tokenizer (>= 3 layers) and rewrites its codes."""

    method = "hourglass"

    def __init__(self, base: Tokenizer, config: HourglassConfig | None = None) -> None:
        self.base = base
        self.config = config or HourglassConfig()
        if self.config.mode not in MODES:
            raise DataError(f"unknown hourglass mode {self.config.mode!r}; choose one of {MODES}", source="config")
        self.top_tokens = np.zeros(0, dtype=np.int32)  # most frequent first

    @property
    def codebook_sizes(self) -> list[int]:
        m = self.base.codebook_sizes
        if self.config.mode == "drop_layer2":
            return [m[0], *m[2:]]
        shifts = self._shifts()
        return [m[0], *(m[p] + m[p + 1] if shifts[p] else m[p] for p in range(1, len(m) - 1)), m[-1]]

    def _shifts(self) -> list[int]:
        """top_k: what position p adds to the code of layer p+1 in an item that skipped layer 2."""
        m = self.base.codebook_sizes
        return [0, m[1], *(m[p] if self.config.layer_specific_tail else 0 for p in range(2, len(m) - 1)), 0]

    def fit(self, vectors: np.ndarray, *, is_head: np.ndarray | None = None) -> HourglassFix:
        if len(self.base.codebook_sizes) < 3:
            raise DataError("hourglass fixes need a tokenizer with at least 3 layers", source="config")
        if not 0 < self.config.top_k < self.base.codebook_sizes[1]:
            raise DataError(
                f"top_k must be in [1, {self.base.codebook_sizes[1]}), got {self.config.top_k}", source="config"
            )
        self.base.fit(vectors, is_head=is_head)
        base = self.base.encode(vectors, is_head=is_head)
        if (base.lengths != base.n_layers).any():
            raise DataError("hourglass fixes apply to fixed-length codes only", source="codes")
        freq = np.bincount(base.codes[:, 1], minlength=self.base.codebook_sizes[1])
        self.top_tokens = np.argsort(-freq, kind="stable")[: self.config.top_k].astype(np.int32)
        return self

    def _dropped(self, layer2: np.ndarray) -> np.ndarray:
        if self.config.mode == "drop_layer2":
            return np.ones(layer2.shape[0], dtype=bool)
        return np.isin(layer2, self.top_tokens)

    def encode(self, vectors: np.ndarray, *, is_head: np.ndarray | None = None) -> Codes:
        base = self.base.encode(vectors, is_head=is_head)
        c, L = base.codes, base.n_layers
        if self.config.mode == "drop_layer2":
            return Codes.full(np.delete(c, 1, axis=1))
        drop = self._dropped(c[:, 1])
        out = c.copy()
        shifts = np.asarray(self._shifts()[1 : L - 1], dtype=np.int32)
        shifted = np.full((int(drop.sum()), L), PAD, dtype=np.int32)
        shifted[:, 0] = c[drop, 0]
        shifted[:, 1 : L - 1] = c[drop, 2:] + shifts
        out[drop] = shifted
        lengths = np.where(drop, L - 1, L).astype(np.int32)
        return Codes(out, lengths)

    def to_base(self, codes: Codes) -> Codes:
        """The base tokenizer's codes, with the most frequent top-K token where layer 2 was dropped."""
        guess = int(self.top_tokens[0]) if self.top_tokens.size else 0
        n, L = codes.n_items, len(self.base.codebook_sizes)
        out = np.empty((n, L), dtype=np.int32)
        out[:, 0] = codes.codes[:, 0]
        if self.config.mode == "drop_layer2":
            out[:, 1] = guess
            out[:, 2:] = codes.codes[:, 1:]
        else:
            shifts = np.asarray(self._shifts()[1 : L - 1], dtype=np.int32)
            drop = codes.codes[:, 1] >= shifts[0]
            out[~drop, 1:] = codes.codes[~drop, 1:]
            out[drop, 1] = guess
            out[drop, 2:] = codes.codes[drop, 1 : L - 1] - shifts
        return Codes.full(out)

    def decode(self, codes: Codes) -> np.ndarray:
        return self.base.decode(self.to_base(codes))

    def save(self, path: str | Path) -> Path:
        out = write_folder(path, self.method, self.config, {"top_tokens": self.top_tokens})
        self.base.save(out / "base")
        payload = json.loads((out / CONFIG_FILE).read_text())
        payload["base_method"] = self.base.method
        (out / CONFIG_FILE).write_text(json.dumps(payload, indent=2) + "\n")
        return out

    @classmethod
    def load(cls, path: str | Path) -> HourglassFix:
        from semid.tokenize.registry import load_tokenizer  # the base may be any registered tokenizer

        payload, tensors = read_folder(path)
        config = {"layer_specific_tail": False, **payload["config"]}  # folders written before the key existed
        tok = cls(load_tokenizer(Path(path) / "base"), HourglassConfig(**config))
        tok.top_tokens = tensors["top_tokens"]
        return tok
