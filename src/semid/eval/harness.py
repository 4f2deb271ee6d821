"""`semid bench`: every method on the same queries, the paper's metrics, head / tail / cold splits.

One run = one dataset. The harness
1. prepares and embeds the bundled dataset (cached), optionally a seeded subset of its catalogue;
2. holds out *cold* items: a seeded share of the test targets that no train or valid record mentions.
   They are left out of every tokenizer fit, of the indexing pairs and of the SID table during
   training, and get their SIDs afterwards by cold-start assignment (``Tokenizer.encode``);
3. for each generative method and seed: fits the tokenizer on the warm items, trains the same retriever
   architecture with the same budget (epochs, batch, learning rate), adds the cold items to the SID
   table, and decodes the test queries constrained (Recall/MRR@K, Ret-Per) and unconstrained (Hallu);
4. runs the non-generative baselines (BM25, dense, popularity) on the same queries;
5. writes ``results.json`` (per method, seed, split: every metric), ``results.md`` (mean ± 95% CI over
   seeds, best in bold) and ``report.html`` (plots). A finished (method, seed) is never rerun.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from semid.data.format import Dataset, load_dataset, validate_queries
from semid.embed.vectors import load_vectors
from semid.errors import DataError
from semid.eval.metrics import KS, evaluate, hallucination_rate
from semid.eval.seen import drop_seen, repeats_consumption
from semid.retrieve.build import input_kind
from semid.retrieve.train import TrainConfig

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
    batch_size: int = TrainConfig.batch_size
    lr: float = TrainConfig.lr
    beam: int = 100
    device: str | None = None
    keep_artifacts: bool = False  # keep each run's tokenizer and retriever (else only result.json stays)
    show_progress: bool = True


# ------------------------------------------------------------------------------------------ data


@dataclass
class BenchData:
    ds: Dataset  # the (possibly subset) dataset, every item
    vectors: np.ndarray
    warm: Dataset  # the dataset without cold items (what methods fit and train on)
    warm_vectors: np.ndarray
    cold_items: list[str]
    test: pd.DataFrame  # evaluated test records
    groups: dict[str, np.ndarray]  # head / tail / cold masks over `test`
    input_kind: str
    exclude_seen: bool = False  # history items left out of every method's ranking (see semid.eval.seen)

    def finish(self, run: list[list[str]]) -> list[list[str]]:
        """Every method's ranked lists (fetched ``extra()`` items deep) go through this one rule."""
        if not self.exclude_seen:
            return [list(r)[: max(KS)] for r in run]
        return drop_seen(run, self.test["history"].tolist(), max(KS))

    def extra(self) -> int:
        return int(self.test["history"].map(len).max()) if self.exclude_seen else 0


def _subset(ds: Dataset, vectors: np.ndarray, keep: np.ndarray) -> tuple[Dataset, np.ndarray]:
    items = ds.items[keep].reset_index(drop=True)
    known = set(items["item_id"])
    q = ds.queries[ds.queries["target"].isin(known)].copy()
    q["history"] = q["history"].map(lambda h: [x for x in h if x in known])
    if (ds.queries["history"].map(len) > 0).any():  # history datasets: a record needs some history left
        q = q[q["history"].map(len) > 0]
    q = validate_queries(q.reset_index(drop=True), pd.Index(items["item_id"]), source=f"{ds.name} subset")
    return Dataset(ds.name, items, q, dict(ds.meta)), vectors[keep]


def prepare_bench_data(cfg: BenchConfig, out: Path) -> BenchData:
    from semid.data import prepare_dataset
    from semid.pipeline import ITEM_VECTORS, embed_dataset

    data_dir = Path(cfg.data_dir) if cfg.data_dir is not None else out / "data"
    if cfg.data_dir is None and not (data_dir / ITEM_VECTORS).exists():
        prepare_dataset(cfg.dataset, data_dir)
        embed_dataset(data_dir)
    ds = load_dataset(data_dir)
    vectors = load_vectors(data_dir / ITEM_VECTORS, n_rows=ds.n_items)
    rng = np.random.default_rng(12345)  # the data split is the same for every seed
    if cfg.max_items is not None and cfg.max_items < ds.n_items:
        keep = np.zeros(ds.n_items, dtype=bool)
        keep[rng.choice(ds.n_items, cfg.max_items, replace=False)] = True
        ds, vectors = _subset(ds, vectors, keep)
    kind = input_kind(ds)

    train_valid = ds.queries[ds.queries["split"] != "test"]
    mentioned = set(train_valid["target"]) | {x for h in train_valid["history"] for x in h}
    test = ds.split("test")
    eligible = sorted(set(test["target"]) - mentioned)
    n_cold = round(cfg.cold_fraction * test["target"].nunique())
    cold = sorted(rng.choice(eligible, min(n_cold, len(eligible)), replace=False).tolist()) if eligible else []
    cold_set = set(cold)
    test = test[~test["history"].map(lambda h: any(x in cold_set for x in h))].reset_index(drop=True)
    is_cold = test["target"].isin(cold_set).to_numpy()
    warm_rows = np.flatnonzero(~is_cold)
    if len(warm_rows) > cfg.max_test_queries:
        warm_rows = np.sort(rng.choice(warm_rows, cfg.max_test_queries, replace=False))
    test = test.iloc[np.sort(np.concatenate([warm_rows, np.flatnonzero(is_cold)]))].reset_index(drop=True)

    warm_items = ~ds.items["item_id"].isin(cold_set).to_numpy()
    warm, warm_vectors = _subset(ds, vectors, warm_items)
    train = warm.split("train")
    if cfg.max_train_queries is not None and len(train) > cfg.max_train_queries:
        train = train.iloc[np.sort(rng.choice(len(train), cfg.max_train_queries, replace=False))]
    warm.queries = pd.concat([train, warm.split("valid")], ignore_index=True)

    head = dict(zip(ds.items["item_id"], ds.items["is_head"], strict=True))
    cold_mask = test["target"].isin(cold_set).to_numpy()
    head_mask = np.array([bool(head[t]) for t in test["target"]]) & ~cold_mask
    groups = {"head": head_mask, "tail": ~head_mask & ~cold_mask, "cold": cold_mask}
    exclude = kind == "history" and not repeats_consumption(train["history"].tolist(), train["target"].tolist())
    return BenchData(ds, vectors, warm, warm_vectors, cold, test, groups, kind, exclude)


# ------------------------------------------------------------------------------------------ methods


def _metric_names() -> list[str]:
    return [f"recall@{k}" for k in KS] + [f"mrr@{k}" for k in KS]


def _qrels(test: pd.DataFrame) -> list[set[str]]:
    return [{t} for t in test["target"]]


def _query_texts(data: BenchData, last: int = 5) -> list[str]:
    """Text of each test record: the query, or for history datasets the texts of the last items."""
    if data.input_kind == "text":
        return data.test["query"].tolist()
    text = dict(zip(data.ds.items["item_id"], data.ds.items["text"], strict=True))
    return ["; ".join(text[x] for x in h[-last:]) for h in data.test["history"]]


def run_baseline(name: str, data: BenchData) -> dict[str, Any]:
    from semid.eval.baselines import BM25Retriever, DenseRetriever, PopularityRetriever

    ids = data.ds.items["item_id"].tolist()
    kmax = max(KS) + data.extra()
    t0 = time.perf_counter()
    if name == "bm25":
        run = BM25Retriever(ids, data.ds.items["text"].tolist()).search(_query_texts(data), kmax)
    elif name == "dense":
        run = DenseRetriever(ids, data.vectors).search(_query_texts(data), kmax)
    elif name == "popularity":
        run = PopularityRetriever(ids, data.ds.items["popularity"].to_numpy()).search(_query_texts(data), kmax)
    elif name == "sasrec":  # trained on the train records as user sequences, best epoch on valid
        from semid.eval.sasrec import fit_sasrec

        run = fit_sasrec(data.ds).search(data.test["history"].tolist(), kmax)
    else:
        raise DataError(f"unknown baseline {name!r}", source="methods")
    run = data.finish(run)
    res = evaluate(_qrels(data.test), run, _metric_names(), data.groups)
    res["all"]["ret_per"] = float(np.mean([len(r) for r in run]))
    return {"splits": res, "seconds": time.perf_counter() - t0}


def run_generative(name: str, seed: int, data: BenchData, cfg: BenchConfig, work: Path) -> dict[str, Any]:
    from semid.pipeline import fit_sids, new_item_codes
    from semid.retrieve.build import BuildConfig
    from semid.retrieve.model import ModelConfig
    from semid.retrieve.sid_model import SIDModelConfig
    from semid.retrieve.train import fit_retriever

    method, options, dedup = GENERATIVE[name]
    options = dict(options)
    if method != "dsi":
        options["seed"] = seed
        options.setdefault("codebook_sizes", list(cfg.codebook_sizes))
        options["show_progress"] = cfg.show_progress
    if method == "rq_vae":
        options["epochs"] = cfg.rq_vae_epochs
    tokenizer, table, fit_seconds = fit_sids(data.warm, data.warm_vectors, method, dedup, **options)
    t5 = ModelConfig(
        d_model=cfg.d_model,
        d_ff=4 * cfg.d_model,
        num_layers=cfg.layers,
        num_decoder_layers=cfg.decoder_layers,
        num_heads=4,
        d_kv=cfg.d_model // 4,
    )
    minilm = SIDModelConfig(d_model=cfg.d_model, encoder_layers=cfg.layers, decoder_layers=cfg.decoder_layers)
    train_cfg = TrainConfig(
        epochs=cfg.epochs,
        patience=cfg.patience,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        seed=seed,
        device=cfg.device,
        eval_queries=1000,
        show_progress=cfg.show_progress,
    )
    t1 = time.perf_counter()
    build = BuildConfig(cfg.backbone, minilm, t5)
    artifacts = work / "retriever" if cfg.keep_artifacts else None
    if cfg.keep_artifacts:
        tokenizer.save(work / "tok" / "tokenizer")
    retriever, history = fit_retriever(data.warm, table, build, train_cfg, artifacts)
    train_seconds = time.perf_counter() - t1

    id_to_row = {x: i for i, x in enumerate(data.ds.items["item_id"])}
    if data.cold_items:
        rows = [id_to_row[c] for c in data.cold_items]
        # the trained model's SID vocabulary is fixed: a cold item never grows the dedup layer
        codes, sizes = new_item_codes(tokenizer, table, data.vectors[rows], dedup, grow_dedup=False)
        pop = data.ds.items["popularity"].to_numpy()[rows]
        table = table.extend(data.cold_items, codes, pop, codebook_sizes=sizes)
    retriever = retriever.with_table(table)

    t2 = time.perf_counter()
    if data.input_kind == "text":
        inputs = retriever.encode_inputs(queries=data.test["query"].tolist())
    else:
        inputs = retriever.encode_inputs(histories=[list(h) for h in data.test["history"]])
    sid_sizes = np.diff(table.sid_offsets)
    run: list[list[str]] = []
    per_query_items: list[int] = []
    generated: list[int] = []
    hallucinated: list[int] = []
    for start in range(0, len(inputs), 64):
        batch = inputs[start : start + 64]
        res = retriever.generate(batch, beam=cfg.beam, constrained=True)
        for r, sids in zip(retriever.expand(res, max(KS) + data.extra()), res.sids, strict=True):
            run.append(r.item_ids)
            valid = sids[sids >= 0]
            per_query_items.append(int(sid_sizes[valid].sum()))
        free = retriever.generate(batch, beam=cfg.beam, constrained=False)
        for r in retriever.expand(free, 1):
            generated.append(r.n_sids_generated)
            hallucinated.append(r.n_hallucinated)
    eval_seconds = time.perf_counter() - t2
    run = data.finish(run)
    splits = evaluate(_qrels(data.test), run, _metric_names(), data.groups)
    splits["all"]["ret_per"] = float(np.mean(per_query_items))
    splits["all"]["hallucination"] = hallucination_rate(generated, hallucinated)
    lengths = table.item_codes().lengths
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
    }


# ------------------------------------------------------------------------------------------ driver


def run_bench(cfg: BenchConfig, out_dir: str | Path) -> dict[str, Any]:
    from tqdm.auto import tqdm

    unknown = [m for m in cfg.methods if m not in ALL_METHODS]
    if unknown:
        raise DataError(f"unknown method(s) {unknown}; choose from {list(ALL_METHODS)}", source="methods")
    if cfg.seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {cfg.seeds}")
    if cfg.backbone == "t5" and cfg.layers < 1:
        raise ValueError("the t5 backbone needs --layers >= 1 (encoder layers)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _check_same_budget(cfg, out)
    data = prepare_bench_data(cfg, out)
    from semid.machine import describe

    results: dict[str, Any] = {
        "dataset": cfg.dataset,
        "machine": describe(),
        "config": asdict(cfg),
        "data": {
            "n_items": data.ds.n_items,
            "n_cold_items": len(data.cold_items),
            "n_test_queries": len(data.test),
            "n_test": {g: int(m.sum()) for g, m in data.groups.items()},
            "input_kind": data.input_kind,
        },
        "methods": {},
    }
    methods = list(cfg.methods)
    if data.input_kind == "text" and "sasrec" in methods:
        if set(methods) != set(ALL_METHODS):  # asked for by name: say why it cannot run
            raise DataError(f"sasrec needs history data; the {cfg.dataset} queries are text", source="methods")
        methods.remove("sasrec")  # 'all': every method that applies to the data
    jobs = [(m, 0) for m in methods if m in BASELINES]  # deterministic: one seed
    jobs += [(m, s) for s in range(cfg.seeds) for m in methods if m in GENERATIVE]
    for method, seed in tqdm(jobs, desc="bench", disable=not cfg.show_progress):
        done = out / "runs" / method / f"seed{seed}" / "result.json"
        if not done.exists():  # resumable: a finished (method, seed) is kept
            work = done.parent
            work.mkdir(parents=True, exist_ok=True)
            res = run_baseline(method, data) if method in BASELINES else run_generative(method, seed, data, cfg, work)
            done.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
        results["methods"].setdefault(method, {})[f"seed{seed}"] = json.loads(done.read_text(encoding="utf-8"))
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out / "results.md").write_text(results_markdown(results), encoding="utf-8")
    from semid.eval.bench_report import write_bench_report

    write_bench_report(results, out / "report.html")
    return results


def _check_same_budget(cfg: BenchConfig, out: Path) -> None:
    """Resuming must not mix budgets: everything but the method list, seed count and display options
    must match the run that wrote `out` first."""
    loose = {"methods", "seeds", "show_progress", "keep_artifacts", "device"}
    mine = {k: v for k, v in asdict(cfg).items() if k not in loose}
    path = out / "bench_config.json"
    if path.exists():
        theirs = json.loads(path.read_text(encoding="utf-8"))
        diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
        if diff:
            raise DataError(
                f"{out} holds results made with other settings ({', '.join(diff)}); use a new --out",
                source=str(path),
            )
    else:
        path.write_text(json.dumps(mine, indent=2) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------------------ tables

T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}
TABLE_COLUMNS = [
    ("all", "recall@10"),
    ("all", "recall@100"),
    ("all", "recall@1000"),
    ("all", "recall@2000"),
    ("all", "mrr@10"),
    ("head", "recall@100"),
    ("tail", "recall@100"),
    ("cold", "recall@100"),
    ("all", "hallucination"),
    ("all", "ret_per"),
]


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% confidence interval (Student t; 0 for one value)."""
    arr = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=np.float64)
    if arr.size == 0:
        return float("nan"), float("nan")
    if arr.size == 1:
        return float(arr[0]), 0.0
    t = T_975.get(arr.size - 1, 1.96)
    return float(arr.mean()), float(t * arr.std(ddof=1) / math.sqrt(arr.size))


def summarize(results: dict[str, Any]) -> dict[str, dict[str, tuple[float, float]]]:
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for method, seeds in results["methods"].items():
        row = {}
        for split, metric in TABLE_COLUMNS:
            vals = [s["splits"].get(split, {}).get(metric) for s in seeds.values()]
            row[f"{split}:{metric}"] = mean_ci([v for v in vals if v is not None])
        out[method] = row
    return out


def results_markdown(results: dict[str, Any]) -> str:
    summary = summarize(results)
    cols = [f"{s}:{m}" for s, m in TABLE_COLUMNS]
    best: dict[str, float] = {}
    for col in cols:
        vals = [summary[m][col][0] for m in summary if not math.isnan(summary[m][col][0])]
        if len(vals) >= 2 and not col.endswith("ret_per"):  # Ret-Per describes, it does not rank
            best[col] = min(vals) if col.endswith("hallucination") else max(vals)
    header = [_label(c) for c in cols]
    d = results["data"]
    lines = [
        f"# semid bench: {results['dataset']}",
        "",
        f"{d['n_items']:,} items ({d['n_cold_items']} cold), {d['n_test_queries']} test queries "
        f"(head {d['n_test']['head']}, tail {d['n_test']['tail']}, cold {d['n_test']['cold']}); "
        f"mean ± 95% CI over seeds; best in bold (lowest for Hallu; Ret-Per not ranked). Hallu is measured by "
        "unconstrained decoding; baselines are deterministic (one run) and return K items by construction.",
        "",
        *_budget_lines(results),
        "",
        "| method | seeds | " + " | ".join(header) + " |",
        "|---|---|" + "---|" * len(cols),
    ]
    for method, row in summary.items():
        n = len(results["methods"][method])
        cells = []
        for col in cols:
            mean, ci = row[col]
            if math.isnan(mean):
                cells.append("–")
                continue
            fmt = f"{mean:.1f}" if col.endswith("ret_per") else f"{mean:.4f}"
            if ci > 0:
                fmt += f" ± {ci:.1f}" if col.endswith("ret_per") else f" ± {ci:.4f}"
            cells.append(f"**{fmt}**" if col in best and mean == best[col] else fmt)
        lines.append(f"| {method} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _budget_lines(results: dict[str, Any]) -> list[str]:
    c, m = results.get("config"), results.get("machine")
    lines = []
    if c:
        arch = "MiniLM (frozen) + SID decoder" if c.get("backbone", "t5") == "minilm" else "T5 from scratch"
        lines.append(
            f"Budget (the same for every generative method): {arch}, d_model {c['d_model']}, {c['layers']}+"
            f"{c['decoder_layers']} layers, at most {c['epochs']} epoch(s) with early stopping after "
            f"{c.get('patience', 0)} epochs without a better valid R@10 (best epoch kept), batch "
            f"{c['batch_size']}, lr {c['lr']}, training records capped at {c['max_train_queries'] or 'all'} "
            f"(+ one indexing pair per warm item for text queries), beam {c['beam']}; RQ codebooks "
            f"{c['codebook_sizes']}, TIGER RQ-VAE {c['rq_vae_epochs']} epochs; "
            f"catalogue {'subset of ' + str(c['max_items']) if c['max_items'] else 'complete'}."
        )
    if m:
        lines.append(f"Machine: {m.get('cpu')}, {m.get('cores_available')} cores, GPU: {m.get('gpu') or 'none'}.")
    return lines


def _label(col: str) -> str:
    split, metric = col.split(":")
    short = metric.replace("recall@", "R@").replace("mrr@", "MRR@")
    short = {"hallucination": "Hallu", "ret_per": "Ret-Per"}.get(short, short)
    return short if split == "all" else f"{split} {short}"
