"""SA²CRQ's depth budget swept on one dataset: `semid bench` (`run_bench`) on sa2crq_m<N> for every N in
--min-items, all in one bench folder so that a rerun resumes (finished (budget, seed) runs are read back),
then one row per budget (tau, #SIDs, mean code length head / tail, Ret-Per, Hallu, head / tail R@10 and
R@100, with the same beams ranked by item vector beside them) and one figure of those against the budget.

    .venv/bin/python -m benchmarks.bench_tau_sweep --dataset wordnet --max-test-queries 12000
    .venv/bin/python -m benchmarks.bench_tau_sweep --dataset movielens --collaborative --seeds 3
    .venv/bin/python -m benchmarks.bench_tau_sweep --dataset runs/ml --epochs 1 --out /tmp/x  # a check
    .venv/bin/python -m benchmarks.bench_tau_sweep --bench runs/bench  # in a `semid bench --out runs/bench`

Budgets: min_items 2, 3, 5, 10, 20, i.e. tau = (min_items - 0.5) / warm items (what min_items resolves to,
semid.tokenize.prefix.resolve_tau). A code goes one layer deeper while at least min_items fitted items share
its prefix, so min_items 2 stops an item only where it is alone: nearly one item per SID and codes as long
as the catalogue needs to tell items apart (min_items 1 would be every code at full length, i.e. ACRQ).
min_items 20 leaves up to 19 items on a SID and stops codes early wherever fewer than 20 items share a
prefix (3x256 codes: movielens has ~35 items per first code, wordnet ~460 per first code and ~2 per
two-code prefix), so short codes and many items per beam. Roughly doubling steps space the budgets
evenly on the figure's log axis and hold the paper's 2.5, 5 and 10 items (its tau of 5e-7..2e-6 on 5M
items) and the bench's sa2crq_m3/m5/m10.

Defaults: `semid bench`'s own budget (every retriever option is BenchConfig's default: backbone, epochs,
patience, learning-rate schedule, codebooks, ...), one seed, so the sweep's rows sit beside a default
bench's. A bundled dataset is prepared and embedded under --runs the first time. Writes <out>/tau_sweep_<name>/
(the bench: results.json, results.md, report.html with the sweep figure, runs/) and <out>/tau_sweep_<name>.json,
.md and .png, where <name> is the dataset's name (+ _collaborative).

--bench DIR sweeps in an existing `semid bench` folder instead of <out>/tau_sweep_<name>/: its dataset, budget
(its bench_config.json) and seed count, so that its finished sa2crq_m<N> runs are read back, not rerun; a
budget it lacks is run there with that budget. Its other methods are not run, and its results keep their
rows, the budgets' rows updated. Not while a `semid bench` is still running in that folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from benchmarks.datasets import embedded_dataset
from benchmarks.report import BUNDLED_DATASETS, parser, write_result
from semid.errors import DataError
from semid.eval.bench import BenchConfig, BenchResults, run_bench
from semid.eval.bench.config import EXACT_SUFFIX, dataset_folder
from semid.eval.bench.depth_budgets import budget_rows, budget_table, plot_budget_sweep
from semid.eval.bench.results import RESULTS_JSON
from semid.eval.bench.run import BUDGET_FILE, recorded_budget

MIN_ITEMS = (2, 3, 5, 10, 20)
BENCH = BenchConfig()
SEEDS = 1  # the sweep's own default (the bench's is BENCH.seeds): budgets x seeds trainings
# the budget options the sweep takes; any left out is BenchConfig's default (or, with --bench, the folder's)
BUDGET = ("epochs", "patience", "max_test_queries", "collaborative", "codebook_sizes", "d_model", "batch_size", "beam")
SETTINGS = (
    "seeds",
    "epochs",
    "patience",
    "lr_schedule",
    "max_test_queries",
    "collaborative",
    "codebook_sizes",
    "d_model",
    "beam",
)


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def arguments(argv: list[str] | None) -> Any:
    """The options; a budget option not given is absent (BenchConfig's default, or the --bench folder's)."""
    ap = parser(__doc__)
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--dataset", help="movielens, wordnet, or a dataset folder (semid embed done)")
    where.add_argument("--bench", type=Path, help="an existing `semid bench` folder to sweep in (see above)")
    ap.add_argument("--runs", default="runs", help="where a bundled dataset is prepared and embedded")
    ap.add_argument("--min-items", type=_ints, default=list(MIN_ITEMS), help="the budgets, comma-separated")
    unset = argparse.SUPPRESS
    ap.add_argument("--seeds", type=int, default=unset, help=f"default {SEEDS}; with --bench, the folder's")
    ap.add_argument("--epochs", type=int, default=unset, help=f"at most this many retriever epochs ({BENCH.epochs})")
    ap.add_argument(
        "--patience",
        type=int,
        default=unset,
        help=f"early stopping: epochs without a better valid R@10 ({BENCH.patience}: none)",
    )
    ap.add_argument(
        "--collaborative", action="store_true", default=unset, help="click logs: content + collaborative vectors"
    )
    ap.add_argument("--max-test-queries", type=int, default=unset, help=f"default {BENCH.max_test_queries}")
    # a smaller budget for a quick check; the committed sweeps keep the bench's defaults
    ap.add_argument("--codebook-sizes", type=_ints, default=unset, help=f"default {BENCH.codebook_sizes}")
    ap.add_argument("--d-model", type=int, default=unset, help=f"default {BENCH.d_model}")
    ap.add_argument("--batch-size", type=int, default=unset, help=f"default {BENCH.batch_size}")
    ap.add_argument("--beam", type=int, default=unset, help=f"default {BENCH.beam}")
    args = ap.parse_args(argv)
    if len(args.min_items) < 2 or min(args.min_items) < 1:
        ap.error(f"--min-items: at least two budgets, each >= 1, got {args.min_items}")
    return args


def sweep_config(args: Any) -> BenchConfig:
    """The sweep's bench: the budgets as methods, with the budget asked for over BenchConfig's defaults, or,
    with --bench, the folder's recorded budget (so run_bench resumes it) and seed count."""
    methods = [f"sa2crq_m{n}" for n in args.min_items]
    given = {key: getattr(args, key) for key in BUDGET if hasattr(args, key)}
    if args.bench is None:
        folder = embedded_dataset(args.dataset, args.runs) if args.dataset in BUNDLED_DATASETS else args.dataset
        return BenchConfig(dataset=str(folder), methods=methods, seeds=getattr(args, "seeds", SEEDS), **given)
    recorded = recorded_budget(args.bench)
    if recorded is None:
        raise DataError(f"{args.bench} holds no `semid bench` (no {BUDGET_FILE})", source="--bench")
    unknown = sorted(set(recorded) - {f.name for f in dataclasses.fields(BenchConfig)})
    if unknown:
        raise DataError(f"settings this semid lacks: {', '.join(unknown)}", source=str(args.bench / BUDGET_FILE))
    clash = [f"--{k.replace('_', '-')} {v} (the folder's: {recorded[k]})" for k, v in given.items() if v != recorded[k]]
    if clash:
        raise DataError(f"{args.bench} was benched with another budget: {'; '.join(clash)}", source="--bench")
    before = _results(args.bench)
    theirs = (before.config or {}).get("seeds", SEEDS) if before else SEEDS
    seeds = getattr(args, "seeds", theirs)
    if seeds < theirs:  # the folder's results would show its budgets' rows over fewer seeds than it ran
        raise DataError(f"--seeds {seeds}: {args.bench} ran {theirs} seeds; leave --seeds out", source="--seeds")
    return BenchConfig(**{**recorded, "methods": methods, "seeds": seeds})


def _results(bench: Path) -> BenchResults | None:
    return BenchResults.load(bench) if (bench / RESULTS_JSON).exists() else None


def with_other_rows(before: BenchResults, sweep: BenchResults, methods: list[str]) -> BenchResults:
    """A bench folder's results with the sweep's rows in place of its budgets' (run_bench saved only the
    sweep's methods): its other methods keep their rows and failures, none of them rerun."""
    ours = {*methods, *(m + EXACT_SUFFIX for m in methods)}
    rows = {m: sweep.methods.get(m) if m in ours else r for m, r in before.methods.items()}
    rows |= {m: r for m, r in sweep.methods.items() if m not in rows}
    failed = {m: why for m, why in before.failed.items() if m not in ours} | sweep.failed
    config = dict(before.config or sweep.config or {})
    config["methods"] = list(dict.fromkeys([*config.get("methods", []), *methods]))
    kept = {m: r for m, r in rows.items() if r is not None}  # a budget that failed this time: its failure says so
    return BenchResults(sweep.dataset, sweep.data, kept, config, before.machine, failed)


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
    cfg = sweep_config(args)
    name = dataset_name(args.dataset or cfg.dataset, cfg.collaborative)
    stem = f"tau_sweep_{name}"
    bench = args.bench or args.out / stem
    before = _results(bench) if args.bench else None
    results = run_bench(cfg, bench)
    rows = budget_rows(results.to_dict())  # the budgets asked for, not every one the folder holds
    if before is not None:  # the folder's own results.md and report.html keep every method's row
        with_other_rows(before, results, cfg.methods).save(bench)
    figure = args.out / f"{stem}.png"
    if rows:  # else every budget failed: results.md says why
        args.out.mkdir(parents=True, exist_ok=True)
        fig = plot_budget_sweep(rows, name)
        fig.savefig(figure, dpi=110, bbox_inches="tight")
        plt.close(fig)
    payload = {
        "dataset": name,
        "command": shlex.join(["python", "-m", "benchmarks.bench_tau_sweep", *argv]),
        "settings": {key: getattr(cfg, key) for key in SETTINGS},
        "data": results.data,
        "bench": Path(os.path.relpath(bench, args.out)).as_posix(),
        "figure": figure.name if rows else None,
        "rows": rows,
        "failed": results.failed,
    }
    return write_result(stem, payload, args.out, markdown)


if __name__ == "__main__":
    main()
