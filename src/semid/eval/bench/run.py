"""`run_bench`: every asked-for method and seed on one `BenchData`, resumable, saved as `BenchResults`."""

from __future__ import annotations

import json
import shutil
import time
import traceback
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

from semid.errors import DataError, SemidWarning
from semid.eval.bench.checks import data_warnings
from semid.eval.bench.config import ALL_METHODS, BASELINES, EXACT_SUFFIX, BenchConfig, current_names, is_generative
from semid.eval.bench.data import BenchData, prepare_bench_data
from semid.eval.bench.methods import RETRIEVER_DIR, run_baseline, run_generative
from semid.eval.bench.results import RESULTS_JSON, BenchResults
from semid.eval.metrics import KS
from semid.files import write_text_atomic
from semid.finetune_rule import check_finetune_request
from semid.machine import describe, machine_label


def run_bench(cfg: BenchConfig, out_dir: str | Path, report_only: bool = False) -> BenchResults:
    """Run the bench into `out_dir` (results.json, results.md, report.html and ``runs/<method>/seed<N>/``).
    A finished (method, seed) is read back, not rerun; a folder made with another budget is refused. What
    the data cannot support is a SemidWarning before the work; a (method, seed) that fails is recorded in
    ``BenchResults.failed`` (its traceback in ``runs/<method>/seed<N>/error.txt``) and the others go on.
    ``report_only``: write the tables from the runs finished so far and start none (read a long bench while it
    runs); the table's seeds column then says how many runs each row holds."""
    from tqdm.auto import tqdm

    cfg.check()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _check_same_budget(cfg, out)
    data = prepare_bench_data(cfg, out)
    check_finetune_request(cfg.finetune_layers, cfg.backbone, data.input_kind, data.ds.name)
    _record_budget(cfg, out)  # only once the data holds up, so a refused setting never sticks to `out`
    methods = [m for m in cfg.methods if not (m == "sasrec" and data.input_kind == "text" and _all(cfg))]
    summary = _data_summary(data)
    summary["warnings"] = data_warnings(summary, methods, KS)
    for note in summary["warnings"]:
        warnings.warn(note, SemidWarning, stacklevel=2)
    machine, earlier = describe(), _earlier_machine(out)
    results = BenchResults(data.ds.name, summary, {}, asdict(cfg), machine)
    jobs = [(m, 0) for m in methods if m in BASELINES]  # deterministic: one seed
    jobs += [(m, s) for s in range(cfg.seeds) for m in methods if is_generative(m)]
    for method, seed in tqdm(jobs, desc="bench", disable=not cfg.show_progress):
        done = out / "runs" / method / f"seed{seed}" / "result.json"
        try:
            if not done.exists():  # resumable: a finished (method, seed) is kept
                if report_only:
                    _say_if_under_way(done.parent, method, seed)
                    continue
                # each run names its machine: a bench resumed elsewhere must not credit one machine with all rows
                result = {**_run(method, seed, data, cfg, done.parent), "machine": machine_label(machine)}
                write_text_atomic(done, json.dumps(result, indent=2) + "\n")
                if not cfg.keep_artifacts:  # scored: its checkpoints were kept only to resume it
                    shutil.rmtree(done.parent / RETRIEVER_DIR, ignore_errors=True)
        except Exception as exc:  # one method's failure must not sink the others' results
            results.failed.setdefault(method, {})[f"seed{seed}"] = _reason(exc)
            (done.parent / "error.txt").write_text(traceback.format_exc(), encoding="utf-8")
            warnings.warn(f"{method} seed {seed} failed: {_reason(exc)}; the other methods go on", SemidWarning, 2)
            continue
        result = json.loads(done.read_text(encoding="utf-8"))
        if earlier is not None:  # a run from before runs named their machine: the one of the table it was in
            result.setdefault("machine", earlier)
        exact = result.pop("exact_rank", None)
        results.methods.setdefault(method, {})[f"seed{seed}"] = result
        if exact is not None:  # the same run's beams with their items ranked by item vector: its own row
            results.methods.setdefault(method + EXACT_SUFFIX, {})[f"seed{seed}"] = exact
    results.save(out)
    return results


def _say_if_under_way(run: Path, method: str, seed: int) -> None:
    """A --report-only reader's word on a run not tabled but with a training checkpoint (running, or cut off)."""
    from semid.retrieve.checkpoint import last_checkpoint

    ckpt = last_checkpoint(run / RETRIEVER_DIR)
    if ckpt.exists():
        stat = ckpt.stat()
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(stat.st_mtime))
        note = f"{method} seed {seed} is not tabled: it has a training checkpoint ({stat.st_size / 2**20:,.0f} MiB,"
        warnings.warn(f"{note} written {when}) in {ckpt.parent}; a bench run resumes it", SemidWarning, 2)


def _earlier_machine(out: Path) -> str | None:
    """The machine of the results.json already in `out` (None without one)."""
    if not (out / RESULTS_JSON).exists():
        return None
    recorded = json.loads((out / RESULTS_JSON).read_text(encoding="utf-8")).get("machine")
    return machine_label(recorded) if recorded else None


def _all(cfg: BenchConfig) -> bool:
    """'all' methods: those that apply to the data (sasrec needs histories); a method named is always tried."""
    return set(cfg.methods) == set(ALL_METHODS)


def _run(method: str, seed: int, data: BenchData, cfg: BenchConfig, work: Path) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    (work / "error.txt").unlink(missing_ok=True)  # a previous attempt's
    if method == "sasrec" and data.input_kind == "text":
        raise DataError(f"sasrec needs history data; the {data.ds.name} queries are text", source="methods")
    return run_baseline(method, data) if method in BASELINES else run_generative(method, seed, data, cfg, work)


def _reason(exc: Exception) -> str:
    """What a failed run's row says: semid's own errors as they are, anything else with its type."""
    from semid.errors import SemidError

    text = str(exc) if isinstance(exc, SemidError | ValueError | OSError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())  # one line: it becomes a table cell


def _data_summary(data: BenchData) -> dict[str, Any]:
    return {
        "n_items": data.ds.n_items,
        "n_head_items": int(data.ds.items["is_head"].sum()),
        "n_cold_items": len(data.cold_items),
        "n_test_queries": len(data.test),
        "n_test": {g: int(m.sum()) for g, m in data.groups.items()},
        "input_kind": data.input_kind,
    }


BEFORE_THE_SETTING = {"lr_schedule": "constant"}  # what runs did before a setting existed, where not the default
BUDGET_FILE = "bench_config.json"  # the budget a bench folder was made with (every setting but the LOOSE ones)
LOOSE = {"methods", "seeds", "show_progress", "keep_artifacts", "device"}  # may differ between reruns


def recorded_budget(out: Path) -> dict[str, Any] | None:
    """The budget the bench in `out` recorded (its BUDGET_FILE), read as today's settings: a folder written
    before --dataset took a folder, before a setting existed or was renamed, as what its runs did. None where
    no bench has run."""
    path = out / BUDGET_FILE
    if not path.exists():
        return None
    theirs = current_names(json.loads(path.read_text(encoding="utf-8")))
    if theirs.get("data_dir"):  # written before --dataset took a folder: the folder was the dataset
        theirs["dataset"] = theirs["data_dir"]
    theirs.pop("data_dir", None)
    # a setting added since that folder was written: it had the default of its day
    defaults = {k: v for k, v in {**asdict(BenchConfig()), **BEFORE_THE_SETTING}.items() if k not in LOOSE}
    return {**{k: v for k, v in defaults.items() if k not in theirs}, **theirs}


def _check_same_budget(cfg: BenchConfig, out: Path) -> None:
    """Resuming must not mix budgets: everything but the method list, seed count and display options
    must match the run that wrote `out` first."""
    mine = {k: v for k, v in asdict(cfg).items() if k not in LOOSE}
    theirs = recorded_budget(out)
    if theirs is not None:
        diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
        if diff:
            raise DataError(
                f"{out} holds results made with other settings ({', '.join(diff)}); use a new --out",
                source=str(out / BUDGET_FILE),
            )


def _record_budget(cfg: BenchConfig, out: Path) -> None:
    path = out / BUDGET_FILE
    if not path.exists():
        mine = {k: v for k, v in asdict(cfg).items() if k not in LOOSE}
        write_text_atomic(path, json.dumps(mine, indent=2) + "\n")  # a resume reads it: never half written
