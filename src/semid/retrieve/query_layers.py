"""Fine-tuning the top layers of the minilm backbone's query encoder (``SIDModelConfig.finetune_layers``).

A sentence-transformers model is token embeddings -> L transformer layers -> pooling (-> normalisation). With
``finetune_layers = N`` the embeddings and the bottom L - N layers stay frozen: `BottomLayers` runs them once
per text (each training query and item text before the first epoch; each query at search time) and keeps
their token states, and the model owns a trainable copy of the top N layers and of the modules after them
(`TopLayers`), so a training step runs only those N layers. The states are stored in float16 without padding,
H * 2 bytes per token (768 B for MiniLM's 384 dimensions); the attention mask is their length.

Rank "exact" keeps comparing the frozen MiniLM's query vector with the frozen item vectors: `frozen_top` runs
the original top layers over the same states, which gives the frozen encoder's vector (up to float16 rounding).
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

import numpy as np
import torch
from torch import nn

from semid.errors import DataError
from semid.finetune_rule import FIELD


def _transformer(st: Any) -> Any:
    """The Hugging Face model inside a sentence-transformers model, if it is BERT-style (embeddings, then
    ``encoder.layer``): the layout the split into frozen and trainable layers relies on."""
    model = getattr(st[0], "auto_model", None)
    layers = getattr(getattr(model, "encoder", None), "layer", None)
    if model is None or not hasattr(model, "embeddings") or not isinstance(layers, nn.ModuleList):
        raise DataError(
            f"{FIELD} needs a BERT-style text encoder (embeddings + encoder.layer); {type(model).__name__} is not one",
            source="finetune_layers",
        )
    return model


def encoder_layers(st: Any) -> int:
    """How many transformer layers the text encoder has (the largest ``finetune_layers``)."""
    return len(_transformer(st).encoder.layer)


def check_finetune_layers(n: int, st: Any) -> None:
    total = encoder_layers(st)
    if not 0 <= n <= total:
        raise ValueError(f"{FIELD} must be between 0 and {total} (the text encoder's layers), got {n}")


def _additive_mask(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """[B, T] 1/0 -> [B, 1, 1, T] 0 / most negative: what BERT-style layers add to their attention scores."""
    return (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


def _run_layers(layers: nn.ModuleList, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    additive = _additive_mask(mask, states.dtype)
    for layer in layers:
        out = layer(states, attention_mask=additive)
        states = out[0] if isinstance(out, tuple) else out  # transformers < 5 returns a tuple
    return states


class TopLayers(nn.Module):
    """Token states after the bottom layers [B, T, H] and their mask [B, T] -> the pooled (and normalised)
    query vector [B, dim], computed as the sentence-transformers model computes it from there."""

    def __init__(self, layers: list[nn.Module], after: list[nn.Module]) -> None:
        super().__init__()
        self.layers, self.after = nn.ModuleList(layers), nn.ModuleList(after)

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # float32 also under the trainer's bf16 autocast: the additive mask must match the attention's dtype
        with torch.autocast(states.device.type, enabled=False):
            features: dict[str, Any] = {"token_embeddings": _run_layers(self.layers, states.float(), mask)}
            features["attention_mask"] = mask
            for module in self.after:
                features = module(features)
        vectors: torch.Tensor = features["sentence_embedding"]
        return vectors


def _top_parts(st: Any, n: int) -> tuple[list[nn.Module], list[nn.Module]]:
    check_finetune_layers(n, st)
    layers = _transformer(st).encoder.layer
    return list(layers[len(layers) - n :]), [st[i] for i in range(1, len(st))]


def trainable_top(st: Any, n: int) -> TopLayers:
    """A copy of the text encoder's top ``n`` layers and pooling, to train (the encoder itself stays frozen)."""
    layers, after = _top_parts(st, n)
    return TopLayers(copy.deepcopy(layers), copy.deepcopy(after))


def frozen_top(st: Any, n: int) -> TopLayers:
    """The text encoder's own top ``n`` layers and pooling (shared, not copied), in eval mode."""
    layers, after = _top_parts(st, n)
    return TopLayers(layers, after).eval().requires_grad_(False)


class BottomLayers:
    """Texts -> per text its token states [tokens, H] (float16) after the frozen embeddings and bottom layers
    of the text encoder, the top ``n_top`` layers left out."""

    def __init__(self, st: Any, n_top: int, batch_size: int = 128) -> None:
        check_finetune_layers(n_top, st)
        model = _transformer(st)
        self.st, self.embeddings, self.batch_size = st, model.embeddings, batch_size
        self.layers = nn.ModuleList(list(model.encoder.layer[: len(model.encoder.layer) - n_top]))

    @torch.inference_mode()
    def _batch(self, texts: list[str]) -> list[np.ndarray]:
        device = next(self.embeddings.parameters()).device
        enc = self.st.tokenizer(
            texts, padding=True, truncation=True, max_length=self.st.max_seq_length, return_tensors="pt"
        ).to(device)
        mask = enc["attention_mask"]
        self.st.eval()
        states = self.embeddings(input_ids=enc["input_ids"], token_type_ids=enc.get("token_type_ids"))
        states = _run_layers(self.layers, states, mask).to(torch.float16).cpu().numpy()
        if not np.isfinite(states).all():
            raise DataError(f"{FIELD}: token states overflow float16", source="finetune_layers")
        lengths = mask.sum(dim=1).tolist()
        packed = np.concatenate([s[:n] for s, n in zip(states, lengths, strict=True)])  # one block, no padding
        bounds = np.cumsum([0, *lengths])
        return [packed[a:b] for a, b in itertools.pairwise(bounds)]

    def __call__(self, texts: list[str], show_progress: bool = False) -> list[np.ndarray]:
        from tqdm.auto import tqdm

        order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths together: less padding
        out: list[np.ndarray] = [np.zeros(0)] * len(texts)
        starts = range(0, len(texts), self.batch_size)
        for start in tqdm(starts, desc="frozen text encoder layers", disable=not show_progress):
            idx = order[start : start + self.batch_size]
            for i, states in zip(idx, self._batch([texts[i] for i in idx]), strict=True):
                out[i] = states
        return out


def pad_states(inputs: list[np.ndarray], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-text token states -> (states [B, T, H] float32, mask [B, T] 1/0), padded on the right."""
    width = max(len(s) for s in inputs)
    states = np.zeros((len(inputs), width, inputs[0].shape[1]), dtype=np.float32)
    mask = np.zeros((len(inputs), width), dtype=np.int64)
    for i, s in enumerate(inputs):
        states[i, : len(s)], mask[i, : len(s)] = s, 1
    return torch.from_numpy(states).to(device), torch.from_numpy(mask).to(device)
