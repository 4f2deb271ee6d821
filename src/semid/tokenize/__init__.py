"""SID tokenizers behind one interface (fit / encode / decode / save / load).

Methods: ``dsi`` (atomic item IDs), ``nci`` (hierarchical k-means), ``rq_kmeans``, ``rq_vae`` (TIGER), and the
adaptive ones ``sarq``, ``acrq``, ``sa2crq`` on either
quantizer (``quantizer="rq_kmeans"``, the default, or ``"rq_vae"``); any fixed-length method can be
wrapped in an hourglass fix (``hourglass="top_k"`` or ``"drop_layer2"``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from semid.codes import PAD, Codes
from semid.errors import DataError
from semid.tokenize.adaptive import AdaptiveRQ, AdaptiveRQConfig
from semid.tokenize.atomic import AtomicConfig, AtomicIDs
from semid.tokenize.base import Tokenizer, read_folder
from semid.tokenize.hkmeans import HierarchicalKMeans, HKMeansConfig
from semid.tokenize.hourglass import HourglassConfig, HourglassFix
from semid.tokenize.rq_kmeans import RQKMeans, RQKMeansConfig
from semid.tokenize.rq_vae import RQVAE, RQVAEConfig

ADAPTIVE_FLAGS = {"sarq": (True, False), "acrq": (False, True), "sa2crq": (True, True)}
QUANTIZERS = ("rq_kmeans", "rq_vae")


def _adaptive(method: str) -> Callable[..., Tokenizer]:
    adaptive, anchored = ADAPTIVE_FLAGS[method]

    def build(quantizer: str = "rq_kmeans", **config: Any) -> Tokenizer:
        if quantizer == "rq_kmeans":
            return AdaptiveRQ(AdaptiveRQConfig(adaptive=adaptive, anchored=anchored, **config))
        if quantizer == "rq_vae":
            return RQVAE(RQVAEConfig(adaptive=adaptive, anchored=anchored, **config))
        raise DataError(f"unknown quantizer {quantizer!r}; choose one of {QUANTIZERS}", source="config")

    return build


# method name -> builder taking the method's config options
METHODS: dict[str, Callable[..., Tokenizer]] = {
    "dsi": lambda **config: AtomicIDs(AtomicConfig(**config)),
    "nci": lambda **config: HierarchicalKMeans(HKMeansConfig(**config)),
    "rq_kmeans": lambda **config: RQKMeans(RQKMeansConfig(**config)),
    "rq_vae": lambda **config: RQVAE(RQVAEConfig(**config)),
    **{name: _adaptive(name) for name in ADAPTIVE_FLAGS},
}
# saved method name (config.json) -> class with .load
LOADERS: dict[str, Any] = {
    "dsi": AtomicIDs,
    "nci": HierarchicalKMeans,
    "rq_kmeans": RQKMeans,
    **{name: AdaptiveRQ for name in ADAPTIVE_FLAGS},
    **{name: RQVAE for name in ("rq_vae", "sarq_vae", "acrq_vae", "sa2crq_vae")},
    HourglassFix.method: HourglassFix,
}


def make_tokenizer(method: str, *, hourglass: str | None = None, hourglass_k: int = 32, **config: Any) -> Tokenizer:
    """A new tokenizer of `method` with its config options; `hourglass` wraps it in an hourglass fix."""
    if method not in METHODS:
        raise DataError(f"unknown tokenizer method {method!r}; choose one of {sorted(METHODS)}", source="method")
    try:
        tok = METHODS[method](**config)
    except TypeError as exc:
        raise DataError(f"bad option for {method}: {exc}", source="config") from None
    if hourglass is not None:
        return HourglassFix(tok, HourglassConfig(hourglass, hourglass_k))
    return tok


def load_tokenizer(path: str | Path) -> Tokenizer:
    payload, _ = read_folder(path)
    method = payload.get("method")
    if method not in LOADERS:
        raise DataError(f"unknown tokenizer method {method!r}", source=str(Path(path) / "config.json"))
    tok: Tokenizer = LOADERS[method].load(path)
    return tok


__all__ = [
    "METHODS",
    "PAD",
    "RQVAE",
    "AdaptiveRQ",
    "AdaptiveRQConfig",
    "AtomicIDs",
    "Codes",
    "HKMeansConfig",
    "HierarchicalKMeans",
    "HourglassConfig",
    "HourglassFix",
    "RQKMeans",
    "RQKMeansConfig",
    "RQVAEConfig",
    "Tokenizer",
    "load_tokenizer",
    "make_tokenizer",
]
