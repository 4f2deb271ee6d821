"""Train the generative retriever on a bundled dataset with RQ-KMeans SIDs and report training throughput
(examples/s) and validation Recall@10 per epoch, then retrieve a few test queries from the artifact.

    .venv/bin/python -m benchmarks.bench_train --dataset movielens --backbone minilm

Uses runs/<dataset> (prepared and embedded when missing) and runs/<dataset>-rq (tokenized when missing).
Trains until valid Recall@10 stops improving (early stopping) and records, per epoch, wall-clock seconds and
valid Recall@10: the time-to-quality curve. Writes benchmarks/results/train_<dataset>_<backbone>_<device>.json
with the machine description.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from benchmarks.datasets import embedded_dataset
from benchmarks.report import parser, write_result
from semid.data import load_dataset
from semid.pipeline import tokenize_dataset
from semid.retrieve.build import BuildConfig
from semid.retrieve.model import ModelConfig
from semid.retrieve.sid_model import SIDModelConfig
from semid.retrieve.train import TrainConfig, train_retriever


def main() -> None:
    ap = parser(__doc__, dataset=True)
    ap.add_argument("--backbone", choices=["minilm", "t5"], default="minilm")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--patience", type=int, default=3)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--eval-queries", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--decoder-layers", type=int, default=2)
    ap.add_argument("--max-input-tokens", type=int, default=64)
    args = ap.parse_args()
    data_dir = embedded_dataset(args.dataset, args.runs)
    tok_dir = Path(args.runs) / f"{args.dataset}-rq"
    if not (tok_dir / "sid_table").exists():
        tokenize_dataset(data_dir, tok_dir, "rq_kmeans", codebook_sizes=[256, 256, 256])
    model_cfg = ModelConfig(
        d_model=args.d_model,
        d_ff=4 * args.d_model,
        num_layers=args.layers,
        num_decoder_layers=args.decoder_layers,
        max_input_tokens=args.max_input_tokens,
    )
    minilm = SIDModelConfig(d_model=args.d_model, encoder_layers=args.layers, decoder_layers=args.decoder_layers)
    build = BuildConfig(args.backbone, minilm, model_cfg)
    cfg = TrainConfig(
        epochs=args.epochs,
        patience=args.patience,
        batch_size=args.batch_size,
        lr=args.lr,
        eval_queries=args.eval_queries,
    )
    art = Path(args.runs) / f"{args.dataset}-{args.backbone}-retriever"
    retriever, history = train_retriever(data_dir, tok_dir, art, build, cfg)
    n_params = sum(p.numel() for p in retriever.model.parameters())
    test = load_dataset(data_dir).split("test").head(3)
    if retriever.input_kind == "text":
        found = retriever.search(test["query"].tolist(), k=5)
    else:
        found = retriever.search(k=5, histories=[list(h) for h in test["history"]])
    examples = [
        {"query": q or f"history of {len(h)} items", "target": t, "top5": r.item_ids}
        for q, h, t, r in zip(test["query"], test["history"], test["target"], found, strict=True)
    ]
    result = {
        "benchmark": f"generative retriever training on {args.dataset} (RQ-KMeans 3 x 256 SIDs)",
        "command": (
            f"python -m benchmarks.bench_train --dataset {args.dataset} --backbone {args.backbone} "
            f"--epochs {args.epochs} --patience {args.patience} --lr {args.lr} --d-model {args.d_model} "
            f"--layers {args.layers} --decoder-layers {args.decoder_layers} --eval-queries {args.eval_queries}"
        ),
        "device": str(retriever.device),
        "model_params": n_params,
        "model_config": retriever.backbone.config(),
        "train_config": cfg.__dict__,
        "history": history,
        "examples": examples,
        "torch_threads": torch.get_num_threads(),
    }
    write_result(f"train_{args.dataset}_{args.backbone}_{retriever.device.type}", result, args.out)
    print(json.dumps({"history": history, "examples": examples}, indent=1))


if __name__ == "__main__":
    main()
