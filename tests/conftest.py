from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ASSETS = Path(__file__).parent / "assets"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test session writes embeddings to its own cache, never the user's."""
    monkeypatch.setenv("SEMID_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


def clustered(n: int, dim: int, n_clusters: int, seed: int = 0, spread: float = 0.05) -> np.ndarray:
    """Gaussian blobs around random unit centres: data with real cluster structure."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    labels = rng.integers(0, n_clusters, size=n)
    return (centres[labels] + spread * rng.normal(size=(n, dim))).astype(np.float32)
