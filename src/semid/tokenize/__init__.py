"""SID tokenizers behind one interface (fit / encode / decode / save / load)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from semid.errors import DataError
from semid.tokenize.base import PAD, Codes, Tokenizer, read_folder
from semid.tokenize.rq_kmeans import RQKMeans, RQKMeansConfig

# method name -> (tokenizer class, config class); each later tokenizer adds its line here.
METHODS: dict[str, tuple[Any, Any]] = {
    RQKMeans.method: (RQKMeans, RQKMeansConfig),
}


def make_tokenizer(method: str, **config: Any) -> Tokenizer:
    if method not in METHODS:
        raise DataError(f"unknown tokenizer method {method!r}; choose one of {sorted(METHODS)}", source="method")
    cls, config_cls = METHODS[method]
    tok: Tokenizer = cls(config_cls(**config))
    return tok


def load_tokenizer(path: str | Path) -> Tokenizer:
    payload, _ = read_folder(path)
    method = payload.get("method")
    if method not in METHODS:
        raise DataError(f"unknown tokenizer method {method!r}", source=str(Path(path) / "config.json"))
    tok: Tokenizer = METHODS[method][0].load(path)
    return tok


__all__ = ["METHODS", "PAD", "Codes", "RQKMeans", "RQKMeansConfig", "Tokenizer", "load_tokenizer", "make_tokenizer"]
