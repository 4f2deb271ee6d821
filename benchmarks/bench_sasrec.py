"""SASRec (cornac, via semid.eval.sasrec) on the bundled MovieLens split, next to popularity, on CPU.

    .venv/bin/python -m benchmarks.bench_sasrec --threads 1      # the committed run
    .venv/bin/python -m benchmarks.bench_sasrec --epochs 3 --out /tmp/x

Trains on every train record (merged back into the 671 user sequences), keeps the epoch best on the
valid records, then ranks the whole catalogue for each of the 671 test histories (last <= 20 items).
Metrics: Recall@K, NDCG@K (one relevant item: 1 / log2(rank + 1)) and MRR@10 over all test users.
Uses runs/movielens (prepared when missing; no embeddings needed). The committed run used one torch thread:
on a 2-core machine shared with other jobs, 2 threads oversubscribed the cores and ran several times slower.
Writes benchmarks/results/sasrec_movielens.json.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.report import parser, write_result
from semid.data import load_dataset, prepare_dataset
from semid.eval import evaluate
from semid.eval.baselines import PopularityRetriever
from semid.eval.sasrec import SASRecConfig, fit_sasrec

KS = (1, 10, 100)


def scores(run: list[list[str]], targets: list[str], groups: dict[str, np.ndarray]) -> dict[str, Any]:
    names = [f"recall@{k}" for k in KS] + ["mrr@10", "ndcg@10"]
    return evaluate([{t} for t in targets], run, names, groups)


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--runs", default="runs")
    ap.add_argument("--threads", type=int, default=2)
    for f in fields(SASRecConfig):
        ap.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    args = ap.parse_args()
    cfg = SASRecConfig(**{f.name: getattr(args, f.name) for f in fields(SASRecConfig)})
    torch.set_num_threads(args.threads)

    data_dir = Path(args.runs) / "movielens"
    if not (data_dir / "queries.parquet").exists():
        prepare_dataset("movielens", data_dir)
    ds = load_dataset(data_dir)
    test = ds.split("test")
    histories, targets = test["history"].tolist(), test["target"].tolist()
    head_of = dict(zip(ds.items["item_id"], ds.items["is_head"], strict=True))
    trained = set(ds.split("train")["target"])
    is_head = np.array([bool(head_of[t]) for t in targets])
    groups = {"head": is_head, "tail": ~is_head, "cold": np.array([t not in trained for t in targets])}
    k = max(KS)

    rows: dict[str, Any] = {}
    pop = PopularityRetriever(ds.items["item_id"].tolist(), ds.items["popularity"].to_numpy())
    rows["popularity"] = scores(pop.search(histories, k), targets, groups)
    ranked = pop.search([None], k + 20)[0]  # the same list, without the items of each history
    unseen = [[x for x in ranked if x not in set(h)][:k] for h in histories]
    rows["popularity (history items left out)"] = scores(unseen, targets, groups)

    load_before = os.getloadavg()
    start = time.perf_counter()
    model = fit_sasrec(ds, cfg)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    run = model.search(histories, k)
    search_s = time.perf_counter() - start
    rows["sasrec"] = {**scores(run, targets, groups), "train_s": train_s, "search_s": search_s}
    for name, row in rows.items():
        a = row["all"]
        print(f"{name:40s} R@10 {a['recall@10']:.4f}  NDCG@10 {a['ndcg@10']:.4f}  R@100 {a['recall@100']:.4f}")
    print(f"sasrec: trained in {train_s:.0f} s ({args.threads} torch threads), searched 671 users in {search_s:.1f} s")

    result = {
        "benchmark": "SASRec (cornac) vs popularity on the movielens test split: full ranking, all test users",
        "command": " ".join(["python -m benchmarks.bench_sasrec", *sys.argv[1:]]),
        "n_test": len(test),
        "n_head_targets": int(is_head.sum()),
        "n_cold_targets": int(groups["cold"].sum()),
        "cold_means": "test target never a train-record target",
        "history_items_excluded": model.exclude_seen,
        "config": asdict(cfg),
        "torch_threads": args.threads,
        "load_average_1m_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "rows": rows,
    }
    write_result("sasrec_movielens", result, args.out)


if __name__ == "__main__":
    main()
