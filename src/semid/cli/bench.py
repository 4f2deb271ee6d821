"""`semid bench` and `semid demo`: options over `semid.eval.bench.run_bench` and `semid.demo.run_demo`, their
defaults read from `BenchConfig` and `DemoConfig`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from semid.cli.common import (
    DEVICE_HELP,
    FINETUNE_LAYERS_HELP,
    FINETUNE_LR_HELP,
    LR_SCHEDULE_HELP,
    MAX_TRAIN_RECORDS_HELP,
    PSEUDO_QUERIES_HELP,
    console,
    int_list,
    print_diagnostics,
    renamed_option,
    warnings_shown,
)
from semid.demo import DemoConfig
from semid.eval.bench.config import BenchConfig

BENCH, DEMO = BenchConfig(), DemoConfig()


def _sizes(sizes: list[int]) -> str:
    return ",".join(map(str, sizes))


def bench(
    dataset: str = typer.Option(
        BENCH.dataset,
        help="a bundled dataset (movielens, wordnet) or a dataset folder made by `semid data import` + `semid embed`",
    ),
    out: Path = typer.Option(..., "--out", help="output folder (rerun to resume: finished runs are kept)"),
    methods: str = typer.Option(
        "all", help="comma-separated methods, or 'all' (see semid.eval.bench); sa2crq_m<N>: SA²CRQ at min_items N"
    ),
    seeds: int = typer.Option(BENCH.seeds, help="seeds per generative method"),
    data_dir: Path | None = typer.Option(None, hidden=True, help="deprecated: --dataset DIR"),
    max_items: int | None = typer.Option(BENCH.max_items, help="seeded catalogue subset"),
    max_train_records: int | None = typer.Option(BENCH.max_train_records, help=MAX_TRAIN_RECORDS_HELP),
    max_train_queries: int | None = typer.Option(None, hidden=True, help="deprecated: --max-train-records"),
    max_test_queries: int = typer.Option(
        BENCH.max_test_queries, help="seeded sample of test queries (cold ones all kept)"
    ),
    cold_fraction: float = typer.Option(BENCH.cold_fraction, help="share of test targets held out as cold items"),
    codebook_sizes: str = typer.Option(_sizes(BENCH.codebook_sizes), help="codes per layer for the RQ methods"),
    collaborative: bool = typer.Option(
        BENCH.collaborative, help="click logs: SIDs and retriever on content + collaborative item vectors"
    ),
    rq_vae_epochs: int = typer.Option(BENCH.rq_vae_epochs, help="TIGER RQ-VAE epochs"),
    backbone: str = typer.Option(BENCH.backbone, help="retriever backbone for every generative method: minilm or t5"),
    epochs: int = typer.Option(BENCH.epochs, help="at most this many training epochs (the same for every method)"),
    patience: int = typer.Option(BENCH.patience, help="early stopping: epochs without a better valid Recall@10"),
    d_model: int = typer.Option(BENCH.d_model, help="retriever width"),
    layers: int = typer.Option(BENCH.layers, help="encoder layers: minilm's history encoder (0: none); t5 needs >= 1"),
    decoder_layers: int = typer.Option(BENCH.decoder_layers, help="decoder layers"),
    finetune_layers: int = typer.Option(BENCH.finetune_layers, help=FINETUNE_LAYERS_HELP),
    finetune_lr: float = typer.Option(BENCH.finetune_lr, help=FINETUNE_LR_HELP),
    pseudo_queries: int = typer.Option(BENCH.pseudo_queries, min=0, help=PSEUDO_QUERIES_HELP),
    lr: float = typer.Option(BENCH.lr, help="learning rate"),
    lr_schedule: str = typer.Option(BENCH.lr_schedule, help=LR_SCHEDULE_HELP),
    batch_size: int = typer.Option(BENCH.batch_size, help="training pairs per step"),
    beam: int = typer.Option(BENCH.beam, help="beam width at evaluation"),
    device: str | None = typer.Option(BENCH.device, help=DEVICE_HELP),
    keep_artifacts: bool = typer.Option(
        BENCH.keep_artifacts,
        help="keep every run's tokenizer and retriever folders (else its training checkpoints go once it is scored)",
    ),
    report_only: bool = typer.Option(
        False, "--report-only", help="table the runs finished so far, start none (read a bench while it runs)"
    ),
) -> None:
    """Every method on the same test queries: results.json, results.md (mean ± 95% CI) and report.html.
    A method that fails gets a row saying why, the others run on; the exit code is then 1."""
    from semid.eval.bench import parse_methods, run_bench

    if data_dir is not None:
        console.print(f"[bold yellow]warning:[/] --data-dir is deprecated; use --dataset {escape(str(data_dir))}")
    cfg = BenchConfig(
        dataset=str(data_dir) if data_dir is not None else dataset,
        methods=parse_methods(methods),
        seeds=seeds,
        max_items=max_items,
        max_train_records=renamed_option(
            "--max-train-queries", "--max-train-records", max_train_queries, max_train_records
        ),
        max_test_queries=max_test_queries,
        cold_fraction=cold_fraction,
        codebook_sizes=int_list(codebook_sizes),
        collaborative=collaborative,
        rq_vae_epochs=rq_vae_epochs,
        backbone=backbone,
        epochs=epochs,
        patience=patience,
        d_model=d_model,
        layers=layers,
        decoder_layers=decoder_layers,
        finetune_layers=finetune_layers,
        lr=lr,
        lr_schedule=lr_schedule,
        finetune_lr=finetune_lr,
        pseudo_queries=pseudo_queries,
        batch_size=batch_size,
        beam=beam,
        device=device,
        keep_artifacts=keep_artifacts,
    )
    with warnings_shown(console):
        results = run_bench(cfg, out, report_only=report_only)
    print(results.to_markdown())  # plain: a markdown table must not be wrapped by the terminal width
    console.print(json.dumps({k: str(out / k) for k in ("results.json", "results.md", "report.html")}))
    if results.failed:
        runs = ", ".join(f"{m} {s}" for m, seeds in results.failed.items() for s in seeds)
        console.print(f"[bold red]error:[/] failed: {escape(runs)} (the reasons are in results.md)", soft_wrap=True)
        raise typer.Exit(code=1)


class _ConsoleLog:
    """The demo's steps as rules on the console, its diagnostics as a table."""

    def step(self, title: str) -> None:
        console.rule(title)

    def info(self, text: str) -> None:
        console.print(text)

    def diagnostics(self, diag: dict[str, Any]) -> None:
        print_diagnostics(diag)


def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="output folder"),
    dataset: str = typer.Option(DEMO.dataset, help="bundled dataset"),
    codebook_sizes: str = typer.Option(_sizes(DEMO.codebook_sizes), help="RQ-KMeans codes per layer"),
    max_train_records: int | None = typer.Option(DEMO.max_train_records, help=MAX_TRAIN_RECORDS_HELP),
    train_queries: int | None = typer.Option(None, hidden=True, help="deprecated: --max-train-records"),
    epochs: int = typer.Option(DEMO.epochs, help="retriever epochs (cosine decay; the best valid Recall@10 kept)"),
    overwrite: bool = typer.Option(DEMO.overwrite, help="replace a retriever or SID table in --out that no demo wrote"),
    collaborative: bool = typer.Option(
        DEMO.collaborative, help="click logs: SIDs on content + collaborative item vectors from the training histories"
    ),
) -> None:
    """End to end on a bundled dataset: prepare -> embed -> tokenize (RQ-KMeans) -> diagnose -> train a
    generative retriever and compare it with BM25, dense and popularity on the test queries. A rerun replaces
    what the previous demo wrote in --out; anything else there (a retriever trained into it, a SID table grown
    by `semid assign`) only with --overwrite. The previous retriever stays loadable until the new one is in."""
    from semid.demo import run_demo

    records = renamed_option("--train-queries", "--max-train-records", train_queries, max_train_records)
    cfg = DemoConfig(dataset, int_list(codebook_sizes), records, epochs, overwrite, collaborative)
    res = run_demo(out, cfg, _ConsoleLog())
    print(res.bench.to_markdown())
    console.print(json.dumps(res.outputs))
