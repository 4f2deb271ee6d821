"""One registry of tokenizers: for every method name, how to load a folder saved under it and (for the
names make_tokenizer takes) how to make a new one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from semid.errors import DataError
from semid.tokenize.adaptive import AdaptiveRQ, AdaptiveRQConfig
from semid.tokenize.atomic import AtomicConfig, AtomicIDs
from semid.tokenize.base import Tokenizer, read_folder
from semid.tokenize.hkmeans import HierarchicalKMeans, HKMeansConfig
from semid.tokenize.hourglass import HourglassConfig, HourglassFix
from semid.tokenize.rq_kmeans import RQKMeans, RQKMeansConfig
from semid.tokenize.rq_vae import RQVAE, RQVAEConfig
from semid.tokenize.staging import VAE_SUFFIX, VARIANTS

QUANTIZERS = ("rq_kmeans", "rq_vae")  # what sarq, acrq and sa2crq run on


@dataclass(frozen=True)
class Registered:
    load: Callable[[str | Path], Tokenizer]  # reads a folder whose config.json names this method
    make: Callable[..., Tokenizer] | None = None  # a new one from config options; None: made under another name
    ignores: tuple[str, ...] = ()  # options callers set for every method that this one has no use for


def _variant(adaptive: bool, anchored: bool) -> Callable[..., Tokenizer]:
    def make(quantizer: str = "rq_kmeans", **config: Any) -> Tokenizer:
        if quantizer == "rq_kmeans":
            return AdaptiveRQ(AdaptiveRQConfig(adaptive=adaptive, anchored=anchored, **config))
        if quantizer == "rq_vae":
            return RQVAE(RQVAEConfig(adaptive=adaptive, anchored=anchored, **config))
        raise DataError(f"unknown quantizer {quantizer!r}; choose one of {QUANTIZERS}", source="config")

    return make


TOKENIZERS: dict[str, Registered] = {
    # DSI (one token per item) has no codebooks and nothing random
    "dsi": Registered(
        AtomicIDs.load, lambda **config: AtomicIDs(AtomicConfig(**config)), ("codebook_sizes", "seed", "show_progress")
    ),
    "nci": Registered(HierarchicalKMeans.load, lambda **config: HierarchicalKMeans(HKMeansConfig(**config))),
    "rq_kmeans": Registered(RQKMeans.load, lambda **config: RQKMeans(RQKMeansConfig(**config))),
    "rq_vae": Registered(RQVAE.load, lambda **config: RQVAE(RQVAEConfig(**config))),
    **{name: Registered(AdaptiveRQ.load, _variant(*flags)) for name, flags in VARIANTS.items()},
    # sarq_vae, ...: what sarq, acrq, sa2crq save as with quantizer="rq_vae"
    **{name + VAE_SUFFIX: Registered(RQVAE.load) for name in VARIANTS},
    # what make_tokenizer(..., hourglass=...) saves as; the base tokenizer is saved inside
    HourglassFix.method: Registered(HourglassFix.load),
}
METHODS = tuple(name for name, entry in TOKENIZERS.items() if entry.make is not None)  # make_tokenizer's names


def options_for(method: str, options: dict[str, Any]) -> dict[str, Any]:
    """`options` as `method` takes them: the ones every caller sets (codebook sizes, seed, progress) but this
    method has no use for are dropped; what remains is the caller's to answer for."""
    ignores = TOKENIZERS[method].ignores if method in TOKENIZERS else ()
    return {k: v for k, v in options.items() if k not in ignores}


def make_tokenizer(method: str, *, hourglass: str | None = None, hourglass_k: int = 32, **config: Any) -> Tokenizer:
    """A new tokenizer of `method` with its config options (see `options_for`); `hourglass` wraps it in an
    hourglass fix."""
    make = TOKENIZERS[method].make if method in TOKENIZERS else None
    if make is None:
        raise DataError(f"unknown tokenizer method {method!r}; choose one of {sorted(METHODS)}", source="method")
    try:
        tok = make(**options_for(method, config))
    except DataError:
        raise
    except (TypeError, ValueError) as exc:
        raise DataError(f"bad option for {method}: {exc}", source="config") from None
    if hourglass is not None:
        return HourglassFix(tok, HourglassConfig(hourglass, hourglass_k))
    return tok


def load_tokenizer(path: str | Path) -> Tokenizer:
    """The tokenizer saved in the folder `path`, whatever its method."""
    payload, _ = read_folder(path)
    method = payload.get("method")
    if method not in TOKENIZERS:
        raise DataError(f"unknown tokenizer method {method!r}", source=str(Path(path) / "config.json"))
    return TOKENIZERS[method].load(path)
