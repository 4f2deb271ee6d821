"""Decoding latency of the two retriever backbones on the same SID table and queries, in one run.

    .venv/bin/python -m benchmarks.bench_backbone_decode --dataset wordnet --beam 100

Builds the default `minilm` backbone and the from-scratch `t5` backbone (the sizes `semid bench` uses) over
RQ-KMeans 3 x 256 SIDs of a bundled dataset, and times constrained beam search: one query at a time (p50/p99,
input encoding included: MiniLM for minilm text queries, WordPiece for t5) and batches of 32 (QPS). Latency does
not depend on training, so the models are untrained. Writes
benchmarks/results/backbone_decode_<dataset>.json with the machine description.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.bench_decoder import stats
from benchmarks.datasets import embedded_dataset
from benchmarks.report import parser, write_result
from semid.data import load_dataset
from semid.pipeline import tokenize_dataset
from semid.retrieve.build import BuildConfig, build_backbone, input_kind
from semid.retrieve.model import ModelConfig
from semid.retrieve.retriever import Retriever
from semid.retrieve.sid_model import SIDModelConfig
from semid.sid import SIDTable


def main() -> None:
    ap = parser(__doc__, dataset=True)
    ap.add_argument("--beam", type=int, default=100)
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    torch.manual_seed(0)
    data_dir = embedded_dataset(args.dataset, args.runs)
    tok_dir = Path(args.runs) / f"{args.dataset}-rq"
    if not (tok_dir / "sid_table").exists():
        tokenize_dataset(data_dir, tok_dir, "rq_kmeans", codebook_sizes=[256, 256, 256])
    ds = load_dataset(data_dir)
    table = SIDTable.load(tok_dir / "sid_table")
    kind = input_kind(ds)
    test = ds.split("test").head(max(args.queries, args.batch))
    raw: dict[str, Any] = (
        {"queries": test["query"].tolist()} if kind == "text" else {"histories": [list(h) for h in test["history"]]}
    )
    t5 = ModelConfig(d_model=128, d_ff=512, num_layers=2, num_decoder_layers=2, num_heads=4, d_kv=32)
    builds = {
        "minilm": BuildConfig("minilm", SIDModelConfig(d_model=128, encoder_layers=1, decoder_layers=2)),
        "t5": BuildConfig("t5", t5=t5),
    }
    rows: dict[str, Any] = {}
    for name, build in builds.items():
        retriever = Retriever(build_backbone(build, ds, table, kind, torch.device("cpu"), False), table)
        retriever.model.eval()

        def run(lo: int, hi: int, r: Retriever = retriever) -> None:
            inputs = r.encode_inputs(**{key: v[lo:hi] for key, v in raw.items()})
            r.generate(inputs, beam=args.beam)

        run(0, 1)  # warm-up
        single = []
        for i in range(args.queries):
            t0 = time.perf_counter()
            run(i, i + 1)
            single.append(time.perf_counter() - t0)
        batched = []
        for _ in range(3):
            t0 = time.perf_counter()
            run(0, args.batch)
            batched.append(time.perf_counter() - t0)
        params = sum(p.numel() for p in retriever.model.parameters())
        rows[name] = {"params": params, "one_query": stats(single), f"batch_{args.batch}": stats(batched, args.batch)}
        print(name, json.dumps(rows[name]), flush=True)
    ratio = rows["t5"]["one_query"]["p50_ms"] / rows["minilm"]["one_query"]["p50_ms"]
    result = {
        "benchmark": f"constrained decoding, beam {args.beam}, {args.dataset} RQ-KMeans 3x256 ({table.n_items} items)",
        "command": f"python -m benchmarks.bench_backbone_decode --dataset {args.dataset} --beam {args.beam}",
        "input_kind": kind,
        "backbones": rows,
        "t5_over_minilm_p50": ratio,
        "torch_threads": torch.get_num_threads(),
    }
    write_result(f"backbone_decode_{args.dataset}", result, args.out)


if __name__ == "__main__":
    main()
