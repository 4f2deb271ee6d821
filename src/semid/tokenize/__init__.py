"""SID tokenizers behind one interface (fit / encode / decode / save / load).

Methods: ``dsi`` (atomic item IDs), ``nci`` (hierarchical k-means), ``rq_kmeans``, ``rq_vae`` (TIGER), and the
adaptive ones ``sarq``, ``acrq``, ``sa2crq`` on either
quantizer (``quantizer="rq_kmeans"``, the default, or ``"rq_vae"``); any fixed-length method can be
wrapped in an hourglass fix (``hourglass="top_k"`` or ``"drop_layer2"``). Every method is registered once,
in semid.tokenize.registry (make_tokenizer, load_tokenizer).
"""

from __future__ import annotations

from semid.codes import PAD, Codes
from semid.tokenize.adaptive import AdaptiveRQ, AdaptiveRQConfig
from semid.tokenize.atomic import AtomicIDs
from semid.tokenize.base import Tokenizer
from semid.tokenize.hkmeans import HierarchicalKMeans, HKMeansConfig
from semid.tokenize.hourglass import HourglassConfig, HourglassFix
from semid.tokenize.registry import METHODS, TOKENIZERS, load_tokenizer, make_tokenizer, options_for
from semid.tokenize.rq_kmeans import RQKMeans, RQKMeansConfig
from semid.tokenize.rq_vae import RQVAE, RQVAEConfig

__all__ = [
    "METHODS",
    "PAD",
    "RQVAE",
    "TOKENIZERS",
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
    "options_for",
]
