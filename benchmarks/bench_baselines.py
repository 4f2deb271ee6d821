"""The non-generative baselines on the bundled test splits, with the paper's metrics by head and tail.

    .venv/bin/python -m benchmarks.bench_baselines --dataset wordnet     # BM25, dense (MiniLM + faiss), popularity
    .venv/bin/python -m benchmarks.bench_baselines --dataset movielens   # popularity (queries are histories)

Uses runs/<dataset> (prepared and embedded when missing). Writes benchmarks/results/baselines_<dataset>.json.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from benchmarks.datasets import embedded_dataset
from benchmarks.report import parser, write_result
from semid.data import load_dataset
from semid.eval import KS, evaluate, ret_per
from semid.eval.baselines import BM25Retriever, DenseRetriever, PopularityRetriever
from semid.pipeline import ITEM_VECTORS


def main() -> None:
    ap = parser(__doc__, dataset=True)
    args = ap.parse_args()
    data_dir = embedded_dataset(args.dataset, args.runs)
    ds = load_dataset(data_dir)
    items = ds.items
    test = ds.split("test")
    head_of = dict(zip(items["item_id"], items["is_head"], strict=True))
    trained = set(ds.split("train")["target"])
    is_head = np.array([head_of[t] for t in test["target"]])
    cold = np.array([t not in trained for t in test["target"]])
    groups = {"head": is_head, "tail": ~is_head, "cold": cold}
    qrels = [{t} for t in test["target"]]
    k_max = max(KS)
    metrics = [f"recall@{k}" for k in KS] + [f"mrr@{k}" for k in KS]
    ids = items["item_id"].tolist()
    methods: dict[str, Any] = {"popularity": PopularityRetriever(ids, items["popularity"].to_numpy())}
    if (test["query"].str.strip() != "").all():
        methods["bm25"] = BM25Retriever(ids, items["text"].tolist())
        methods["dense (MiniLM + faiss)"] = DenseRetriever(ids, np.load(data_dir / ITEM_VECTORS))
    rows: dict[str, Any] = {}
    for name, method in methods.items():
        start = time.perf_counter()
        run = method.search(test["query"].tolist(), k_max)
        seconds = time.perf_counter() - start
        rows[name] = {
            **evaluate(qrels, run, metrics, groups),
            "ret_per": ret_per(run),
            "search_s": seconds,
            "queries_per_s": len(run) / seconds,
        }
        print(
            name, json.dumps({g: {m: round(v, 4) for m, v in rows[name][g].items()} for g in ("all", "head", "tail")})
        )
    result = {
        "benchmark": f"non-generative baselines on the {args.dataset} test split",
        "command": f"python -m benchmarks.bench_baselines --dataset {args.dataset}",
        "n_test": len(test),
        "n_head_targets": int(is_head.sum()),
        "n_cold_targets": int(cold.sum()),
        "cold_means": "test target never a train-query target",
        "rows": rows,
    }
    write_result(f"baselines_{args.dataset}", result, args.out)


if __name__ == "__main__":
    main()
