"""Rebuild a bench folder's ``runs/<method>/seed<N>/result.json`` from a committed results.json, so that
`semid bench` can go on with the runs it lacks on a new machine (the committed tables keep results.json, not
the runs folder; every session's machine starts without it).

    .venv/bin/python -m benchmarks.restore_bench_runs benchmarks/results/bench/wordnet --out runs/bench-wn
    semid bench --dataset runs/wn --out runs/bench-wn --methods <the same list> ... (the same budget)

Each run gets back its ``exact_rank`` (from the ``<method>+exact`` row) and the machine it ran on (its own
``machine``, else the results.json's). bench_config.json is copied so the budget check of a resume holds. A run
already in `--out` is left alone. Rerun `semid bench ... --report-only` afterwards: its table is the same.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from semid.eval.bench import BenchResults
from semid.eval.bench.config import EXACT_SUFFIX
from semid.files import write_text_atomic
from semid.machine import machine_label


def restore_runs(committed: Path, out: Path) -> list[Path]:
    """Write every run of `committed` (a folder with results.json and bench_config.json) into `out`; the
    result.json files written."""
    missing = [name for name in ("results.json", "bench_config.json") if not (committed / name).is_file()]
    if missing:
        raise SystemExit(f"{committed}: no {' or '.join(missing)}; give a committed bench folder")
    results = BenchResults.load(committed)
    writer = machine_label(results.machine) if results.machine else None
    out.mkdir(parents=True, exist_ok=True)
    if not (out / "bench_config.json").exists():
        shutil.copyfile(committed / "bench_config.json", out / "bench_config.json")
    written = []
    for method, seeds in results.methods.items():
        if method.endswith(EXACT_SUFFIX):
            continue
        for seed, run in seeds.items():
            path = out / "runs" / method / seed / "result.json"
            if path.exists():
                continue
            result = {**run}
            exact = results.methods.get(method + EXACT_SUFFIX, {}).get(seed)
            if exact is not None:
                result["exact_rank"] = exact
            if "machine" not in result and writer is not None:
                result["machine"] = writer
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, json.dumps(result, indent=2) + "\n")
            written.append(path)
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("committed", type=Path, help="folder holding results.json and bench_config.json")
    ap.add_argument("--out", type=Path, required=True, help="the bench folder to resume")
    args = ap.parse_args()
    written = restore_runs(args.committed, args.out)
    print(f"{len(written)} runs restored into {args.out / 'runs'}")


if __name__ == "__main__":
    main()
