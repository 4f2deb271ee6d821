"""Helpers shared by the tokenizer tests: a small, fast RQ-VAE and clustered vectors with a head/tail split."""

from __future__ import annotations

import numpy as np

from semid.tokenize import RQVAE, RQVAEConfig
from tests.helpers import clustered

RQ_VAE_SIZES = [16, 16, 16]


def small_rq_vae(**options) -> RQVAE:
    """An RQ-VAE small enough to fit in seconds (3 x 16 codes, one 32-wide hidden layer); `options` override."""
    base = dict(codebook_sizes=RQ_VAE_SIZES, hidden_dims=[32], latent_dim=8, epochs=6, batch_size=256)
    return RQVAE(RQVAEConfig(**{**base, "show_progress": False, **options}))


def vectors_with_head(n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """n 16-d vectors around 40 clusters, and an is_head mask marking the first half."""
    x = clustered(n, 16, 40, spread=0.08)
    is_head = np.zeros(n, dtype=bool)
    is_head[: n // 2] = True
    return x, is_head
