"""The RQ-VAE tokenizer of "Recommender Systems with Generative Retrieval" (TIGER, arXiv:2305.05065),
with the SARQ and ACRQ options of "Towards Efficient and Generalizable Retrieval: Adaptive Semantic
Quantization and Residual Knowledge Transfer" (arXiv:2602.23978).

The network is semid.tokenize.rq_vae_net, its training semid.tokenize.rq_vae_train, and the stages
semid.tokenize.staging:

- ``adaptive`` (SARQ): an item's losses (reconstruction through ``sum_{l<=k(x)} e_l``, codebook,
  commitment) cover only its layers 1..k(x); the prefix tables are saved and decide new items' depths.
- ``anchored`` (ACRQ): stage 1 trains on head items with codebooks of ``head_codebook_sizes``, for as many
  items as ``epochs`` passes over the whole catalogue (``head_epochs`` None), not ``epochs`` passes over a
  head of a few percent; stage 2 trains on tail items with each codebook = frozen anchors (a buffer, so
  bit-identical) + a trainable extension, the codebook loss masked to assignments that hit the extension.
  ``freeze_encoder_in_tail`` (the default) also freezes encoder and decoder, so a head item's latent, and
  with the anchors its SID, are what stage 1 made them; without it the tail stage moves every head code.
- both (SA²CRQ): tail depths follow ``tail_depth`` (semid.tokenize.tail_depth), as on residual k-means.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from semid.codes import PAD, Codes
from semid.embed.vectors import check_fit_vectors, check_vectors
from semid.tokenize.base import read_folder, write_folder
from semid.tokenize.prefix import PrefixTables, depth_budget
from semid.tokenize.rq_kmeans import check_codebook_sizes
from semid.tokenize.rq_vae_net import RQVAEModule
from semid.tokenize.rq_vae_train import RQVAETrainer, with_legacy_options
from semid.tokenize.staging import fit_stages, resolve_head_sizes, variant_name
from semid.tokenize.tail_depth import (
    CATALOGUE,
    DepthRule,
    check_tail_depth,
    load_catalogue,
)


@dataclass
class RQVAEConfig:
    codebook_sizes: list[int] = field(default_factory=lambda: [256, 256, 256])  # final codes per layer
    latent_dim: int = 32  # dimension of the quantized latent (TIGER: 32)
    hidden_dims: list[int] = field(default_factory=lambda: [512, 256, 128])  # encoder MLP; decoder mirrors it
    beta: float = 0.25  # commitment weight
    epochs: int = 30  # training epochs; ACRQ's head stage sees as many items (head_epochs), see above
    tail_epochs: int | None = None  # ACRQ tail-stage epochs (default: epochs)
    head_epochs: int | None = None  # ACRQ head-stage epochs (default: epochs x n_items / n_head, see above)
    batch_size: int = 1024
    lr: float = 1e-3
    adaptive: bool = False  # SARQ depth
    anchored: bool = False  # ACRQ two stages
    tau: float | None = None  # SARQ budget: continue while P(prefix) > tau
    min_items: int | None = None  # ...or while >= min_items items share the prefix (neither: 8)
    head_codebook_sizes: list[int] | None = None  # ACRQ head-stage sizes (default M/4, M/2, M, ...)
    tail_depth: str = CATALOGUE  # SA²CRQ tail depths: "catalogue" or "head_tables" (semid.tokenize.tail_depth)
    freeze_encoder_in_tail: bool = True  # ACRQ: encoder/decoder frozen in stage 2 (head SIDs fixed)
    device: str | None = None  # None: cuda when available, else cpu
    amp: bool = True  # bf16 autocast for the MLPs on GPU
    seed: int = 0
    checkpoint_dir: str | None = None  # save every epoch here and resume from it
    show_progress: bool = True

    def __post_init__(self) -> None:
        self.tau, self.min_items = depth_budget(self.tau, self.min_items)
        check_tail_depth(self.tail_depth)


class RQVAE:
    """RQ-VAE tokenizer; with `adaptive`/`anchored` it is SARQ / ACRQ / SA²CRQ on the RQ-VAE quantizer."""

    def __init__(self, config: RQVAEConfig | None = None) -> None:
        self.config = config or RQVAEConfig()
        self.module: RQVAEModule | None = None
        self.tables: PrefixTables | None = None
        self.catalogue: PrefixTables | None = None  # SA²CRQ, tail_depth "catalogue": counts over all items
        self.tau = 0.0
        self.history: list[dict[str, Any]] = []  # per epoch: stage, losses, utilisation

    @property
    def method(self) -> str:
        return variant_name(self.config.adaptive, self.config.anchored, "rq_vae")

    @property
    def codebook_sizes(self) -> list[int]:
        return list(self.config.codebook_sizes)

    @property
    def head_codebook_sizes(self) -> list[int]:
        return resolve_head_sizes(self.config)

    @property
    def device(self) -> torch.device:
        if self.config.device:
            return torch.device(self.config.device)
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")

    @property
    def dim(self) -> int:
        first = self._module().encoder[0]
        assert isinstance(first, nn.Linear)
        return int(first.in_features)

    def _module(self) -> RQVAEModule:
        if self.module is None:
            raise RuntimeError("tokenizer is not fitted; call fit() or load() first")
        return self.module

    def fit(self, vectors: np.ndarray, *, is_head: np.ndarray | None = None) -> RQVAE:
        c = self.config
        x = check_fit_vectors(vectors, source="vectors")
        check_codebook_sizes(c.codebook_sizes, x.shape[0])
        torch.manual_seed(c.seed)
        trainer = RQVAETrainer(c, self.device, self.method, x.shape)  # resumes from c.checkpoint_dir
        self.tau, self.tables, self.catalogue = fit_stages(trainer, x, is_head, c, trainer.head_done(), self.method)
        self.module, self.history = trainer.module, trainer.history
        return self

    def encode(self, vectors: np.ndarray, *, is_head: np.ndarray | None = None) -> Codes:
        m = self._module()
        x = torch.from_numpy(check_vectors(vectors, source="vectors", dim=self.dim)).to(self.device)
        head = np.array(is_head, dtype=bool) if is_head is not None and self.config.anchored else None
        anchors_only = None if head is None else torch.from_numpy(head).to(self.device)
        m.eval()
        full = m.codes(x, anchors_only).cpu().numpy().astype(np.int32)
        m.train()
        if self.config.adaptive:
            assert self.tables is not None
            return DepthRule(self.tables, self.tau, self.catalogue).cut(full, head)
        return Codes.full(full)

    def decode(self, codes: Codes) -> np.ndarray:
        codes.validate(self.codebook_sizes)
        m = self._module()
        with torch.no_grad():
            zq = torch.zeros(codes.n_items, self.config.latent_dim, device=self.device)
            for layer, cb in enumerate(m.layers()):
                used = torch.from_numpy(codes.lengths > layer).to(self.device)
                idx = torch.from_numpy(np.where(codes.codes[:, layer] == PAD, 0, codes.codes[:, layer])).to(self.device)
                zq += cb.weight()[idx.long()] * used[:, None].float()
            return m.decoder(zq).float().cpu().numpy()

    def save(self, path: str | Path) -> Path:
        m = self._module()
        tensors = {k: v.detach().cpu().numpy() for k, v in m.state_dict().items()}
        for name, tables in (("prefix", self.tables), ("catalogue", self.catalogue)):
            if tables is not None:
                tensors.update(tables.to_tensors(name))
        anchor_sizes = [cb.n_anchor for cb in m.layers()]
        out = write_folder(
            path, self.method, self.config, tensors, dim=self.dim, tau=self.tau, anchor_sizes=anchor_sizes
        )
        (out / "history.json").write_text(json.dumps(self.history, indent=1) + "\n", encoding="utf-8")
        return out

    @classmethod
    def load(cls, path: str | Path) -> RQVAE:
        payload, tensors = read_folder(path)
        tok = cls(RQVAEConfig(**with_legacy_options(payload["config"])))
        c = tok.config
        m = RQVAEModule(int(payload["dim"]), c.hidden_dims, c.latent_dim)
        m.shape_codebooks(c.codebook_sizes, payload["anchor_sizes"])
        tables = ("prefix_", "catalogue_")
        state = {k: torch.from_numpy(v.copy()) for k, v in tensors.items() if not k.startswith(tables)}
        m.load_state_dict(state)
        tok.module = m.to(tok.device)
        tok.tau = float(payload["tau"])
        if c.adaptive:
            tok.tables = PrefixTables.from_tensors(tensors, len(c.codebook_sizes))
            tok.catalogue = load_catalogue(tensors, len(c.codebook_sizes), c)
        return tok
