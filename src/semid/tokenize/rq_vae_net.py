"""The RQ-VAE network, apart from its training (semid.tokenize.rq_vae_train).

MLP encoder -> L residual codebooks -> MLP decoder: the residual-quantized autoencoder of
"Autoregressive Image Generation using Residual Quantization" (arXiv:2203.01941) on item vectors, as
"Recommender Systems with Generative Retrieval" (TIGER, arXiv:2305.05065) uses it to make semantic IDs.
One layer is a :class:`ResidualCodebook`; :class:`RQVAEModule` composes L of them between the MLPs.

A codebook is frozen anchors (a buffer, possibly empty) followed by trainable codes: ACRQ's hybrid
codebook C_l^T = C_l^H + C_l^new (Sec. 2.2 of "Towards Efficient and Generalizable Retrieval: Adaptive
Semantic Quantization and Residual Knowledge Transfer", arXiv:2602.23978). State-dict keys
(``encoder.*``, ``decoder.*``, ``codebooks.<l>.anchors``, ``codebooks.<l>.extension``) are the saved format.
"""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import nn


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class ResidualCodebook(nn.Module):
    """One layer's codebook: frozen anchors (a buffer, possibly empty) + trainable codes."""

    def __init__(self, anchors: torch.Tensor, trainable: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("anchors", anchors.clone())
        self.extension = nn.Parameter(trainable.clone())

    anchors: torch.Tensor

    @property
    def n_anchor(self) -> int:
        return int(self.anchors.shape[0])

    def weight(self) -> torch.Tensor:
        return torch.cat([self.anchors, self.extension], dim=0)

    def forward(
        self, residual: torch.Tensor, anchors_only: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The nearest code (L2) of each residual: (index, vector). Rows flagged `anchors_only` choose
        among the anchors."""
        w = self.weight()
        dist = (
            residual.float().pow(2).sum(1, keepdim=True)
            - 2 * residual.float() @ w.float().T
            + w.float().pow(2).sum(1)[None, :]
        )
        if anchors_only is not None and anchors_only.any() and self.n_anchor > 0:
            dist[anchors_only, self.n_anchor :] = float("inf")
        idx = dist.argmin(dim=1)
        return idx, w[idx]


class RQVAEModule(nn.Module):
    def __init__(self, dim: int, hidden_dims: list[int], latent_dim: int) -> None:
        super().__init__()
        self.encoder = mlp([dim, *hidden_dims, latent_dim])
        self.decoder = mlp([latent_dim, *reversed(hidden_dims), dim])
        self.codebooks = nn.ModuleList()
        self.latent_dim = latent_dim

    def layers(self) -> list[ResidualCodebook]:
        return [cb for cb in self.codebooks if isinstance(cb, ResidualCodebook)]

    def shape_codebooks(self, sizes: list[int], anchor_sizes: list[int]) -> None:
        """Zero codebooks of these sizes (anchors first), for a state dict to be loaded into."""
        for size, n_anchor in zip(sizes, anchor_sizes, strict=True):
            zeros = torch.zeros(n_anchor, self.latent_dim), torch.zeros(size - n_anchor, self.latent_dim)
            self.codebooks.append(ResidualCodebook(*zeros))

    def quantize(
        self, z: torch.Tensor, depth: torch.Tensor | None, anchors_only: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """Nearest codes layer by layer. Returns codes [n, L], the quantized latent summed over each item's
        depth, and per layer the residual and chosen code vector (for the losses)."""
        residual = z
        zq = torch.zeros_like(z)
        codes, residuals, chosen = [], [], []
        for layer, cb in enumerate(self.layers()):
            idx, e = cb(residual, anchors_only)
            use = torch.ones_like(idx, dtype=z.dtype) if depth is None else (depth > layer).to(z.dtype)
            residuals.append(residual)
            chosen.append(e)
            codes.append(idx)
            zq = zq + e * use[:, None]
            residual = residual - e.detach()
        return torch.stack(codes, dim=1), zq, residuals, chosen

    @torch.no_grad()
    def latents(self, x: torch.Tensor, batch: int = 8192) -> torch.Tensor:
        return torch.cat([self.encoder(x[i : i + batch]) for i in range(0, x.shape[0], batch)])

    @torch.no_grad()
    def codes(self, x: torch.Tensor, anchors_only: torch.Tensor | None = None, batch: int = 8192) -> torch.Tensor:
        """Full-length codes [n, L] of the vectors `x`, in batches."""
        out = []
        for i in range(0, x.shape[0], batch):
            mask = None if anchors_only is None else anchors_only[i : i + batch]
            out.append(self.quantize(self.encoder(x[i : i + batch]), None, mask)[0])
        return torch.cat(out)
