"""SID tokenizers behind one interface (fit / encode / decode / save / load)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from semid.errors import DataError
from semid.tokenize.adaptive import AdaptiveRQ, AdaptiveRQConfig, acrq_config, sa2crq_config, sarq_config
from semid.tokenize.base import PAD, Codes, Tokenizer, read_folder
from semid.tokenize.hourglass import HourglassConfig, HourglassFix
from semid.tokenize.rq_kmeans import RQKMeans, RQKMeansConfig

# method name -> (tokenizer class, config builder)
METHODS: dict[str, tuple[Any, Any]] = {
    "rq_kmeans": (RQKMeans, RQKMeansConfig),
    "sarq": (AdaptiveRQ, sarq_config),
    "acrq": (AdaptiveRQ, acrq_config),
    "sa2crq": (AdaptiveRQ, sa2crq_config),
}


def make_tokenizer(method: str, *, hourglass: str | None = None, hourglass_k: int = 32, **config: Any) -> Tokenizer:
    """A new tokenizer of `method` with its config options; `hourglass` wraps it in an hourglass fix."""
    if method not in METHODS:
        raise DataError(f"unknown tokenizer method {method!r}; choose one of {sorted(METHODS)}", source="method")
    cls, build_config = METHODS[method]
    try:
        cfg = build_config(**config)
    except TypeError as exc:
        raise DataError(f"bad option for {method}: {exc}", source="config") from None
    tok: Tokenizer = cls(cfg)
    if hourglass is not None:
        return HourglassFix(tok, HourglassConfig(hourglass, hourglass_k))
    return tok


def load_tokenizer(path: str | Path) -> Tokenizer:
    payload, _ = read_folder(path)
    method = payload.get("method")
    if method == HourglassFix.method:
        return HourglassFix.load(path)
    if method not in METHODS:
        raise DataError(f"unknown tokenizer method {method!r}", source=str(Path(path) / "config.json"))
    tok: Tokenizer = METHODS[method][0].load(path)
    return tok


__all__ = [
    "METHODS",
    "PAD",
    "AdaptiveRQ",
    "AdaptiveRQConfig",
    "Codes",
    "RQKMeans",
    "RQKMeansConfig",
    "Tokenizer",
    "load_tokenizer",
    "make_tokenizer",
]
