"""One bench run of one method: its ranked lists for the test records, scored by semid.eval.metrics.

Every method ends the same way: history items left out where the bench says so (`BenchData.finish`),
Recall/MRR@K by head / tail / cold split, and Ret-Per (`semid.eval.metrics.ret_per`) over what it retrieved.
"""

from __future__ import annotations

import shutil
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from semid.errors import DataError, SemidWarning
from semid.eval.bench.config import BenchConfig, generative_spec
from semid.eval.bench.data import BenchData
from semid.eval.metrics import KS, evaluate, items_retrieved, retrieval_counts
from semid.files import TOKENIZER_DIR

if TYPE_CHECKING:
    from semid.retrieve.retriever import Retriever
    from semid.sid.table import SIDTable
    from semid.tokenize import Tokenizer

METRICS = [f"recall@{k}" for k in KS] + [f"mrr@{k}" for k in KS] + ["ndcg@10", "ndcg@100"]
DECODE_BATCH = 64
RETRIEVER_DIR = "retriever"  # a run's training checkpoints and trained retriever, in its runs/<method>/seed<N>


def run_baseline(name: str, data: BenchData) -> dict[str, Any]:
    from semid.eval.baselines import BM25Retriever, DenseRetriever, PopularityRetriever

    ids = data.ds.items["item_id"].tolist()
    kmax = max(KS) + data.extra()
    t0 = time.perf_counter()
    if name == "bm25":
        run = BM25Retriever(ids, data.ds.items["text"].tolist()).search(data.query_texts(), kmax)
    elif name == "dense":
        run = DenseRetriever(ids, data.vectors).search(data.query_texts(), kmax)
    elif name == "popularity":
        run = PopularityRetriever(ids, data.ds.items["popularity"].to_numpy()).search(data.query_texts(), kmax)
    elif name == "sasrec":  # trained on the train records as user sequences, best epoch on valid
        from semid.eval.sasrec import fit_sasrec

        run = fit_sasrec(data.ds).search(data.test["history"].tolist(), kmax)
    else:
        raise DataError(f"unknown baseline {name!r}", source="methods")
    run = data.finish(run)  # the list each baseline was asked for: max(KS) items after the history rule
    res = with_counts(
        evaluate(data.qrels(), run, METRICS, data.groups), retrieval_counts(items_retrieved(run), data.groups)
    )
    return {"splits": res, "seconds": time.perf_counter() - t0}


def run_generative(name: str, seed: int, data: BenchData, cfg: BenchConfig, work: Path) -> dict[str, Any]:
    """Fit the method's tokenizer on the warm items, train the bench's one retriever on its SIDs, give the
    cold items SIDs without refitting, then decode every test record constrained and unconstrained."""
    from semid.pipeline import fit_sids
    from semid.retrieve.backbones import MiniLMBackbone
    from semid.tokenize import options_for

    spec = generative_spec(name)
    if spec is None:
        raise DataError(f"unknown generative method {name!r}", source="methods")
    method, options, dedup = spec
    options = dict(options)
    options["seed"] = seed
    options.setdefault("codebook_sizes", list(cfg.codebook_sizes))
    options["show_progress"] = cfg.show_progress
    options = options_for(method, options)
    if method == "rq_vae":
        options["epochs"] = cfg.rq_vae_epochs
    tokenizer, table, fit_seconds = fit_sids(data.warm, data.warm_sid_vectors, method, dedup, **options)
    if cfg.keep_artifacts:
        tokenizer.save(work / "tok" / TOKENIZER_DIR)
    t1 = time.perf_counter()
    retriever, history, resumed = _train_or_resume(data, table, cfg, seed, work / RETRIEVER_DIR)
    train_seconds = time.perf_counter() - t1
    retriever = with_cold_items(retriever, data, tokenizer, dedup, cfg)
    table = retriever.table
    exact = isinstance(retriever.backbone, MiniLMBackbone)  # item vectors to rank by: rank "exact" too

    t2 = time.perf_counter()
    decoded = _decode(retriever, data, cfg.beam, cfg.show_progress, exact)
    eval_seconds = time.perf_counter() - t2
    # Ret-Per of the uncut lists (counted batch by batch), Hallu of unconstrained decoding, per split too
    counts = retrieval_counts(decoded.retrieved, data.groups, decoded.generated, decoded.hallucinated)
    splits = with_counts(evaluate(data.qrels(), decoded.run, METRICS, data.groups), counts)
    extra: dict[str, Any] = {}
    if decoded.exact_run is not None:  # the same beams, their items ordered by item vector (Retriever.expand)
        exact_splits = evaluate(data.qrels(), decoded.exact_run, METRICS, data.groups)
        extra["exact_rank"] = {"splits": with_counts(exact_splits, counts)}
    lengths = table.item_codes().lengths
    tau = getattr(tokenizer, "tau", None)  # SARQ / SA²CRQ's depth budget as resolved on the warm items
    if tau:  # 0.0: a tokenizer without one (ACRQ)
        extra["tau"] = float(tau)
    return {
        "splits": splits,
        "tokenizer": {"method": method, "options": {k: v for k, v in options.items() if k != "show_progress"}},
        "n_sids": table.n_sids,
        "code_length_mean": float(lengths.mean()),
        "code_lengths": np.bincount(lengths).tolist(),
        "code_length_head": float(lengths[table.is_head].mean()) if table.is_head.any() else None,
        "code_length_tail": float(lengths[~table.is_head].mean()) if (~table.is_head).any() else None,
        "valid_recall@10": [h.get("valid_recall@10") for h in history],
        "epoch_seconds": [h["seconds"] for h in history],
        "seconds": {"tokenize": fit_seconds, "train": train_seconds, "eval": eval_seconds},
        **({"training_resumed": True} if resumed else {}),  # seconds.train is then the resumed part's only
        **extra,
    }


def _train_or_resume(
    data: BenchData, table: SIDTable, cfg: BenchConfig, seed: int, folder: Path
) -> tuple[Retriever, list[dict[str, Any]], bool]:
    """`_train`, checkpointed in `folder` every epoch so that a bench cut off or failing after an epoch resumes
    there; a checkpoint of other SIDs (the tokenizer refit on another CPU's floats) is dropped with a warning.
    Also returns whether an earlier attempt's checkpoint was resumed."""
    from semid.retrieve.checkpoint import CheckpointMismatch, last_checkpoint

    resumed = last_checkpoint(folder).exists()
    try:
        retriever, history = _train(data, table, cfg, seed, folder)
    except CheckpointMismatch as exc:
        warnings.warn(
            f"{exc}; training {folder.parent.parent.name} {folder.parent.name} from the start", SemidWarning, 2
        )
        shutil.rmtree(folder)
        retriever, history = _train(data, table, cfg, seed, folder)
        resumed = False
    return retriever, history, resumed


def _train(
    data: BenchData, table: SIDTable, cfg: BenchConfig, seed: int, artifacts: Path | None
) -> tuple[Retriever, list[dict[str, Any]]]:
    """The one retriever architecture and budget every generative method gets."""
    from semid.retrieve.build import BuildConfig
    from semid.retrieve.model import ModelConfig
    from semid.retrieve.sid_model import SIDModelConfig
    from semid.retrieve.train import TrainConfig, fit_retriever

    t5 = ModelConfig(
        d_model=cfg.d_model,
        d_ff=4 * cfg.d_model,
        num_layers=cfg.layers,
        num_decoder_layers=cfg.decoder_layers,
        num_heads=4,
    )
    minilm = SIDModelConfig(
        d_model=cfg.d_model,
        encoder_layers=cfg.layers,
        decoder_layers=cfg.decoder_layers,
        finetune_layers=cfg.finetune_layers,
    )
    train_cfg = TrainConfig(
        epochs=cfg.epochs,
        patience=cfg.patience,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        lr_schedule=cfg.lr_schedule,
        finetune_lr=cfg.finetune_lr,
        pseudo_queries=cfg.pseudo_queries,
        seed=seed,
        device=cfg.device,
        eval_queries=1000,
        show_progress=cfg.show_progress,
    )
    build = BuildConfig(cfg.backbone, minilm, t5)
    # the catalogue is embedded once, not per method and seed; collaborative vectors are the model's items too
    vectors = data.warm_sid_vectors if _shares_vectors(data, cfg) else None
    return fit_retriever(data.warm, table, build, train_cfg, artifacts, item_vectors=vectors)


def _shares_vectors(data: BenchData, cfg: BenchConfig) -> bool:
    """Whether the minilm model's item vectors are the bench's SID vectors (same encoder, or collaborative)."""
    from semid.embed.encoder import same_model
    from semid.retrieve.build import BuildConfig

    if data.collaborative:
        return True
    encoder = BuildConfig(cfg.backbone).encoder
    model = data.vectors_model
    return model is not None and same_model(model, encoder)


def with_cold_items(
    retriever: Retriever, data: BenchData, tokenizer: Tokenizer, dedup: bool, cfg: BenchConfig
) -> Retriever:
    """The trained retriever over its SID table with the held-out cold items added (`_with_cold_items`), they
    being cold to it (`Retriever.cold`), and where it reads item vectors their own (what a user adding items
    would give it)."""
    from semid.retrieve.backbones import MiniLMBackbone

    retriever = retriever.with_table(_with_cold_items(data, tokenizer, retriever.table, dedup))
    if isinstance(retriever.backbone, MiniLMBackbone) and data.cold_items and _shares_vectors(data, cfg):
        rows = data.ds.items.reset_index(drop=True).index[data.ds.items["item_id"].isin(data.cold_items)]
        retriever.add_item_vectors(data.ds.items["item_id"].iloc[rows].tolist(), data.sid_vectors[rows])
    return retriever


def _with_cold_items(data: BenchData, tokenizer: Tokenizer, table: SIDTable, dedup: bool) -> SIDTable:
    """The SID table with the held-out cold items added by cold-start assignment (no refit)."""
    from semid.pipeline import new_item_codes

    if not data.cold_items:
        return table
    id_to_row = {x: i for i, x in enumerate(data.ds.items["item_id"])}
    rows = [id_to_row[c] for c in data.cold_items]
    # the trained model's SID vocabulary is fixed: a cold item never grows the dedup layer
    codes, sizes = new_item_codes(tokenizer, table, data.sid_vectors[rows], dedup, grow_dedup=False)
    pop = data.ds.items["popularity"].to_numpy()[rows]
    return table.extend(data.cold_items, codes, pop, codebook_sizes=sizes)


def with_counts(splits: dict[str, dict[str, float]], counts: dict[str, dict[str, float]]) -> dict[str, Any]:
    """`evaluate`'s splits with `retrieval_counts`' values added to each split."""
    return {split: {**values, **counts.get(split, {})} for split, values in splits.items()}


class Decoded(NamedTuple):
    """Per test record, what decoding gave."""

    run: list[list[str]]  # the ranked list to score (constrained beam, history rule applied, cut at max K)
    retrieved: np.ndarray  # items retrieved: every item behind every SID of the beam (history rule applied)
    generated: list[int]  # SIDs generated by unconstrained decoding
    hallucinated: list[int]  # of those, SIDs that match no item
    exact_run: list[list[str]] | None  # the same beams' items ranked by item vector (rank "exact"), if asked


def _decode(
    retriever: Retriever, data: BenchData, beam: int, show_progress: bool = False, exact: bool = False
) -> Decoded:
    from tqdm.auto import tqdm

    if data.input_kind == "text":
        inputs = retriever.encode_inputs(queries=data.test["query"].tolist())
    else:
        inputs = retriever.encode_inputs(histories=[list(h) for h in data.test["history"]])
    everything = retriever.table.n_items
    run: list[list[str]] = []
    retrieved: list[np.ndarray] = []
    generated: list[int] = []
    hallucinated: list[int] = []
    exact_run: list[list[str]] = []
    batches = range(0, len(inputs), DECODE_BATCH)
    for start in tqdm(batches, desc="decode test queries (constrained + free)", disable=not show_progress):
        batch = inputs[start : start + DECODE_BATCH]
        res = retriever.generate(batch, beam=beam, constrained=True)
        rows = slice(start, start + DECODE_BATCH)
        # a batch at a time, SIDs can be large; both orders from one pass over the beams' items
        orders = retriever.expand_ranks(res, everything, ["beam", "exact"] if exact else ["beam"], batch)
        lists = [r.item_ids for r in orders["beam"]]
        retrieved.append(items_retrieved(data.drop_seen(lists, rows)))
        run.extend(data.finish(lists, rows))
        if exact:
            exact_run.extend(data.finish([r.item_ids for r in orders["exact"]], rows))
        free = retriever.generate(batch, beam=beam, constrained=False)
        for r in retriever.expand(free, 1):
            generated.append(r.n_sids_generated)
            hallucinated.append(r.n_hallucinated)
    return Decoded(run, np.concatenate(retrieved), generated, hallucinated, exact_run if exact else None)
