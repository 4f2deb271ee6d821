"""`run_bench`: every asked-for method and seed on one `BenchData`, resumable, saved as `BenchResults`."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from semid.errors import DataError
from semid.eval.bench.config import ALL_METHODS, BASELINES, GENERATIVE, BenchConfig
from semid.eval.bench.data import BenchData, prepare_bench_data
from semid.eval.bench.methods import run_baseline, run_generative
from semid.eval.bench.results import BenchResults


def run_bench(cfg: BenchConfig, out_dir: str | Path) -> BenchResults:
    """Run the bench into `out_dir` (results.json, results.md, report.html and ``runs/<method>/seed<N>/``).
    A finished (method, seed) is read back, not rerun; a folder made with another budget is refused."""
    from tqdm.auto import tqdm

    from semid.machine import describe

    cfg.check()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _check_same_budget(cfg, out)
    data = prepare_bench_data(cfg, out)
    results = BenchResults(cfg.dataset, _data_summary(data), {}, asdict(cfg), describe())
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
        results.methods.setdefault(method, {})[f"seed{seed}"] = json.loads(done.read_text(encoding="utf-8"))
    results.save(out)
    return results


def _data_summary(data: BenchData) -> dict[str, object]:
    return {
        "n_items": data.ds.n_items,
        "n_cold_items": len(data.cold_items),
        "n_test_queries": len(data.test),
        "n_test": {g: int(m.sum()) for g, m in data.groups.items()},
        "input_kind": data.input_kind,
    }


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
