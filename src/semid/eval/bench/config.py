"""What a bench run compares (the methods) and with which budget (`BenchConfig`).

Kept free of heavy imports: the command line reads its option defaults from `BenchConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from semid.errors import DataError

BASELINES = ("bm25", "dense", "popularity", "sasrec")
# generative method -> (tokenizer method, tokenizer options, TIGER dedup token)
GENERATIVE: dict[str, tuple[str, dict[str, Any], bool]] = {
    "dsi": ("dsi", {}, False),
    "nci": ("nci", {"codebook_sizes": [32, 32, 32, 32]}, False),
    "tiger": ("rq_vae", {}, True),
    "rq_kmeans": ("rq_kmeans", {}, False),
    "rq_kmeans_top32": ("rq_kmeans", {"hourglass": "top_k", "hourglass_k": 32}, False),
    "sarq": ("sarq", {"min_items": 5}, False),
    "acrq": ("acrq", {}, False),
    "sa2crq_m3": ("sa2crq", {"min_items": 3}, False),
    "sa2crq_m5": ("sa2crq", {"min_items": 5}, False),
    "sa2crq_m10": ("sa2crq", {"min_items": 10}, False),
}
ALL_METHODS = (*BASELINES, *GENERATIVE)
SPLIT_NAMES = ("all", "head", "tail", "cold")


@dataclass
class BenchConfig:
    dataset: str = "movielens"
    data_dir: str | None = None  # an already prepared + embedded dataset folder instead of the bundled one
    methods: list[str] = field(default_factory=lambda: list(ALL_METHODS))
    seeds: int = 3
    max_items: int | None = None  # seeded catalogue subset (same for every method and seed)
    max_train_queries: int | None = None  # seeded cap on training records
    max_test_queries: int = 1000  # seeded sample of test queries (all cold ones are kept)
    cold_fraction: float = 0.1  # share of eligible test targets held out as cold items
    codebook_sizes: list[int] = field(default_factory=lambda: [256, 256, 256])
    rq_vae_epochs: int = 20
    # the one retriever architecture and budget every generative method gets
    backbone: str = "minilm"  # "minilm" (frozen MiniLM / item vectors + SID decoder) or "t5" (from scratch)
    d_model: int = 128
    layers: int = 0  # encoder layers: minilm's history encoder (0: none); t5 needs >= 1
    decoder_layers: int = 2
    epochs: int = 30  # at most; training stops after `patience` epochs without a better valid Recall@10
    patience: int = 3
    batch_size: int = 512  # TrainConfig's (spelled out: importing semid.retrieve would load torch)
    lr: float = 3e-3  # TrainConfig's, likewise
    beam: int = 100
    device: str | None = None
    keep_artifacts: bool = False  # keep each run's tokenizer and retriever (else only result.json stays)
    show_progress: bool = True

    def check(self) -> None:
        """DataError / ValueError for a method list or budget no run can use."""
        unknown = [m for m in self.methods if m not in ALL_METHODS]
        if unknown:
            raise DataError(f"unknown method(s) {unknown}; choose from {list(ALL_METHODS)}", source="methods")
        if self.seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {self.seeds}")
        if self.backbone == "t5" and self.layers < 1:
            raise ValueError("the t5 backbone needs --layers >= 1 (encoder layers)")


def parse_methods(text: str) -> list[str]:
    """A comma-separated method list, or 'all' (every method that applies to the data)."""
    return list(ALL_METHODS) if text == "all" else [m.strip() for m in text.split(",") if m.strip()]
