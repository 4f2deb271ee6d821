"""Helpers shared by the tokenizer tests: a small, fast RQ-VAE and clustered vectors with a head/tail split
(half and half, or long-tailed by Zipf popularity)."""

from __future__ import annotations

import numpy as np

from semid.data.headtail import head_tail_split
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


def zipf_catalogue(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A long-tailed catalogue: n 16-d vectors around 60 clusters, Zipf popularity (1 / rank^1.1 over a random
    ranking), and the head mask of the items covering 80% of it (~9% of the items, as on real catalogues)."""
    x = clustered(n, 16, 60, seed=seed, spread=0.1)
    popularity = 1.0 / np.random.default_rng(seed).permutation(np.arange(1, n + 1)) ** 1.1
    return x, head_tail_split(popularity)
