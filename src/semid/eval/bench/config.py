"""What a bench run compares (the methods) and with which budget (`BenchConfig`).

Kept free of heavy imports: the command line reads its option defaults from `BenchConfig`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from semid.errors import DataError
from semid.finetune_rule import check_finetune_request

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
ALL_METHODS = (*BASELINES, *GENERATIVE)  # 'all'; besides these, any SA²CRQ budget sa2crq_m<N> may be named
SA2CRQ_BUDGET = re.compile(r"sa2crq_m([1-9][0-9]*)")  # SA²CRQ at min_items N (a depth-budget sweep)
EXACT_SUFFIX = "+exact"  # row of a generative method whose items are ranked by item vector (Retriever rank "exact")
SPLIT_NAMES = ("all", "head", "tail", "cold")
BUNDLED = ("movielens", "wordnet")  # semid.data.DATASETS (importing semid.data would load pandas)
RENAMED = {"max_train_queries": "max_train_records"}  # a setting's old name -> its name today


def current_names(settings: dict[str, Any]) -> dict[str, Any]:
    """A BenchConfig as a dict (bench_config.json, results.json's config), its settings under today's names:
    a folder written before a rename still resumes with the same budget."""
    return {RENAMED.get(k, k): v for k, v in settings.items() if not (k in RENAMED and RENAMED[k] in settings)}


def generative_spec(name: str) -> tuple[str, dict[str, Any], bool] | None:
    """(tokenizer method, options, dedup) of the generative method `name`: a GENERATIVE entry or sa2crq_m<N>;
    None for a name that is neither."""
    if name in GENERATIVE:
        return GENERATIVE[name]
    budget = SA2CRQ_BUDGET.fullmatch(name)
    return ("sa2crq", {"min_items": int(budget[1])}, False) if budget else None


def is_generative(name: str) -> bool:
    return generative_spec(name) is not None


def needs_head(name: str) -> bool:
    """Whether the method fits ACRQ's head stage (on head items)."""
    spec = generative_spec(name)
    return spec is not None and spec[0] in ("acrq", "sa2crq")


@dataclass
class BenchConfig:
    dataset: str = "movielens"  # a bundled dataset's name, or a dataset folder (semid data import + semid embed)
    methods: list[str] = field(default_factory=lambda: list(ALL_METHODS))
    seeds: int = 3
    max_items: int | None = None  # seeded catalogue subset (same for every method and seed)
    max_train_records: int | None = None  # seeded sample of the training records (None: all)
    max_test_queries: int = 1000  # seeded sample of test queries (all cold ones are kept)
    cold_fraction: float = 0.1  # share of eligible test targets held out as cold items
    collaborative: bool = False  # SIDs and retriever on content + collaborative item vectors (history data)
    codebook_sizes: list[int] = field(default_factory=lambda: [256, 256, 256])
    rq_vae_epochs: int = 20
    # the one retriever architecture and budget every generative method gets
    backbone: str = "minilm"  # "minilm" (frozen MiniLM / item vectors + SID decoder) or "t5" (from scratch)
    d_model: int = 128
    layers: int = 0  # encoder layers: minilm's history encoder (0: none); t5 needs >= 1
    decoder_layers: int = 2
    finetune_layers: int = 0  # minilm, text queries: train MiniLM's top N layers too (0: frozen, cached vectors)
    epochs: int = 10  # at most; with patience, training stops after that many epochs without a better valid R@10
    patience: int = 0
    batch_size: int = 512  # TrainConfig's (spelled out: importing semid.retrieve would load torch)
    lr: float = 3e-3  # TrainConfig's, likewise
    lr_schedule: str = "cosine"  # TrainConfig's, likewise
    finetune_lr: float = 1e-4  # TrainConfig's, likewise
    pseudo_queries: int = 0  # text queries: random spans of each warm item's text -> its SID (TrainConfig's)
    beam: int = 100
    device: str | None = None
    keep_artifacts: bool = False  # keep each run's tokenizer and retriever (else only result.json stays once scored)
    show_progress: bool = True

    def check(self) -> None:
        """DataError / ValueError for a method list or budget no run can use."""
        unknown = [m for m in self.methods if m not in BASELINES and not is_generative(m)]
        if unknown:
            raise DataError(
                f"unknown method(s) {unknown}; choose from {list(ALL_METHODS)} or sa2crq_m<N> (SA²CRQ at min_items N)",
                source="methods",
            )
        if self.seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {self.seeds}")
        if self.pseudo_queries < 0:
            raise ValueError(f"pseudo_queries must be >= 0, got {self.pseudo_queries}")
        if self.backbone == "t5" and self.layers < 1:
            raise ValueError("the t5 backbone needs --layers >= 1 (encoder layers)")
        check_finetune_request(self.finetune_layers, self.backbone)  # the queries' kind: once the data is read
        dataset_folder(self.dataset)


def dataset_folder(dataset: str) -> Path | None:
    """The dataset folder `dataset` names, or None for a bundled dataset's name (a folder that shares a
    bundled name is spelled as a path: ./movielens). DataError, before any work, for anything else."""
    from semid.data.format import ITEMS_FILE, META_FILE, QUERIES_FILE
    from semid.data.provenance import VECTORS_FILE, check_folder_vectors

    if dataset in BUNDLED:
        return None
    folder = Path(dataset)
    if not folder.is_dir():
        raise DataError(
            f"unknown dataset {dataset!r}: neither a bundled dataset ({', '.join(BUNDLED)}) nor a folder; make a "
            f"dataset folder with `semid data import --items ... --queries ... --out DIR` and `semid embed DIR`, "
            "then pass --dataset DIR",
            source="--dataset",
        )
    missing = [f for f in (ITEMS_FILE, QUERIES_FILE, META_FILE) if not (folder / f).exists()]
    if missing:
        raise DataError(
            f"{folder} is not a dataset folder (no {', '.join(missing)}); make one with `semid data import`",
            source="--dataset",
        )
    if not (folder / VECTORS_FILE).exists():
        raise DataError(f"{folder} has no item vectors yet; run `semid embed {folder}` first", source="--dataset")
    check_folder_vectors(folder)  # embedded from these items, not from a catalogue imported there before
    return folder


def parse_methods(text: str) -> list[str]:
    """A comma-separated method list, or 'all' (every method that applies to the data)."""
    return list(ALL_METHODS) if text == "all" else [m.strip() for m in text.split(",") if m.strip()]
