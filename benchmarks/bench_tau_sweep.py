"""SA²CRQ's depth budget swept on one dataset: `semid bench` (`run_bench`) on sa2crq_m<N> for every N in
--min-items, all in one bench folder so that a rerun resumes (finished (budget, seed) runs are read back),
then one row per budget (tau, #SIDs, mean code length head / tail, Ret-Per, Hallu, head / tail R@10 and
R@100, with the same beams ranked by item vector beside them) and one figure of those against the budget.

    .venv/bin/python -m benchmarks.bench_tau_sweep --dataset wordnet --max-test-queries 12000
    .venv/bin/python -m benchmarks.bench_tau_sweep --dataset movielens --collaborative --seeds 3
    .venv/bin/python -m benchmarks.bench_tau_sweep --dataset runs/ml --epochs 1 --out /tmp/x  # a check

Budgets: min_items 2, 3, 5, 10, 20, i.e. tau = (min_items - 0.5) / warm items (what min_items resolves to,
semid.tokenize.prefix.resolve_tau). A code goes one layer deeper while at least min_items fitted items share
its prefix, so min_items 2 stops an item only where it is alone: nearly one item per SID and codes as long
as the catalogue needs to tell items apart (min_items 1 would be every code at full length, i.e. ACRQ).
min_items 20 leaves up to 19 items on a SID and stops codes early wherever fewer than 20 items share a
prefix (3x256 codes: movielens has ~35 items per first code, wordnet ~460 per first code and ~2 per
two-code prefix), so short codes and many items per beam. Roughly doubling steps space the budgets
evenly on the figure's log axis and hold the paper's 2.5, 5 and 10 items (its tau of 5e-7..2e-6 on 5M
items) and the bench's sa2crq_m3/m5/m10.

Defaults: the retriever budget of the committed benchmarks/results/bench_minilm runs (minilm backbone,
at most 12 epochs, patience 3, codebooks 256x3), so the sweep's rows sit beside their rq_kmeans row.
A bundled dataset is prepared and embedded under --runs the first time. Writes <out>/tau_sweep_<name>/ (the
bench: results.json, results.md, report.html with the sweep figure, runs/) and <out>/tau_sweep_<name>.json,
.md and .png, where <name> is the dataset's name (+ _collaborative).
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from benchmarks.datasets import embedded_dataset
from benchmarks.report import BUNDLED_DATASETS, parser, write_result
from semid.eval.bench import BenchConfig, run_bench
from semid.eval.bench.config import dataset_folder
from semid.eval.bench.depth_budgets import budget_rows, budget_table, plot_budget_sweep

MIN_ITEMS = (2, 3, 5, 10, 20)
BENCH = BenchConfig()
SETTINGS = ("seeds", "epochs", "patience", "max_test_queries", "collaborative", "codebook_sizes", "d_model", "beam")


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def arguments(argv: list[str] | None) -> Any:
    ap = parser(__doc__)
    ap.add_argument("--dataset", required=True, help="movielens, wordnet, or a dataset folder (semid embed done)")
    ap.add_argument("--runs", default="runs", help="where a bundled dataset is prepared and embedded")
    ap.add_argument("--min-items", type=_ints, default=list(MIN_ITEMS), help="the budgets, comma-separated")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=12, help="at most this many retriever epochs")
    ap.add_argument("--patience", type=int, default=3, help="early stopping: epochs without a better valid R@10")
    ap.add_argument("--collaborative", action="store_true", help="click logs: content + collaborative vectors")
    ap.add_argument("--max-test-queries", type=int, default=BENCH.max_test_queries)
    # a smaller budget for a quick check; the committed sweeps keep the bench's defaults
    ap.add_argument("--codebook-sizes", type=_ints, default=list(BENCH.codebook_sizes))
    ap.add_argument("--d-model", type=int, default=BENCH.d_model)
    ap.add_argument("--batch-size", type=int, default=BENCH.batch_size)
    ap.add_argument("--beam", type=int, default=BENCH.beam)
    args = ap.parse_args(argv)
    if len(args.min_items) < 2 or min(args.min_items) < 1:
        ap.error(f"--min-items: at least two budgets, each >= 1, got {args.min_items}")
    return args


def dataset_name(dataset: str, collaborative: bool) -> str:
    """The name the sweep's files carry: the bundled name or the folder's meta.json name."""
    name = dataset
    folder = None if dataset in BUNDLED_DATASETS else dataset_folder(dataset)
    if folder is not None:
        name = json.loads((folder / "meta.json").read_text(encoding="utf-8")).get("name") or folder.name
    return name + ("_collaborative" if collaborative else "")


def markdown(result: dict[str, Any]) -> str:
    s, m = result["settings"], result["machine"]
    d = result["data"]
    lines = [
        f"# SA²CRQ depth budgets on {result['dataset']}",
        "",
        f"`{result['command']}`: `semid bench` on one SA²CRQ method per budget (sa2crq_m<min_items>), "
        f"{s['seeds']} seed(s), at most {s['epochs']} epoch(s) (patience {s['patience']}), codebooks "
        f"{s['codebook_sizes']}, d_model {s['d_model']}, beam {s['beam']}"
        + (", content + collaborative item vectors" if s["collaborative"] else "")
        + f". {d['n_items']:,} items ({d['n_cold_items']} cold), {d['n_test_queries']} test queries (head "
        f"{d['n_test']['head']}, tail {d['n_test']['tail']}, cold {d['n_test']['cold']}). Machine: {m['cpu']}, "
        f"{m['cores_available']} cores, GPU: {m['gpu'] or 'none'}.",
        "",
        "tau: the probability budget min_items resolves to, (min_items - 0.5) / warm items; #SID and lengths: "
        "the trained table's, cold items included; recall: mean ± 95% CI over seeds, beam order, then (exact) "
        f"the same beams' items ranked by item vector. Every other column: [{result['bench']}/results.md]"
        f"({result['bench']}/results.md).",
        "",
        budget_table(result["rows"]),
    ]
    if result["figure"]:
        lines.append(f"![SA²CRQ depth budgets on {result['dataset']}]({result['figure']})")
    failed = [
        f"- {method} {seed} failed: {why}" for method, seeds in result["failed"].items() for seed, why in seeds.items()
    ]
    return "\n".join(lines + (["", *failed] if failed else [])) + "\n"


def main(argv: list[str] | None = None) -> Path:
    """Run (or resume) the sweep; the path of its JSON result."""
    argv = sys.argv[1:] if argv is None else argv
    args = arguments(argv)
    name = dataset_name(args.dataset, args.collaborative)
    folder = embedded_dataset(args.dataset, args.runs) if args.dataset in BUNDLED_DATASETS else Path(args.dataset)
    cfg = BenchConfig(
        dataset=str(folder),
        methods=[f"sa2crq_m{n}" for n in args.min_items],
        seeds=args.seeds,
        max_test_queries=args.max_test_queries,
        collaborative=args.collaborative,
        codebook_sizes=args.codebook_sizes,
        d_model=args.d_model,
        epochs=args.epochs,
        patience=args.patience,
        batch_size=args.batch_size,
        beam=args.beam,
    )
    stem = f"tau_sweep_{name}"
    results = run_bench(cfg, args.out / stem).to_dict()
    rows = budget_rows(results)
    figure = args.out / f"{stem}.png"
    if rows:  # else every budget failed: results.md says why
        fig = plot_budget_sweep(rows, name)
        fig.savefig(figure, dpi=110, bbox_inches="tight")
        plt.close(fig)
    payload = {
        "dataset": name,
        "command": shlex.join(["python", "-m", "benchmarks.bench_tau_sweep", *argv]),
        "settings": {key: getattr(cfg, key) for key in SETTINGS},
        "data": results["data"],
        "bench": stem,
        "figure": figure.name if rows else None,
        "rows": rows,
        "failed": results.get("failed", {}),
    }
    return write_result(stem, payload, args.out, markdown)


if __name__ == "__main__":
    main()
