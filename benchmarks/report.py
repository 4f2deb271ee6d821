"""What every benchmark script shares: its common options and how it writes its result.

A result is ``<out>/<name>.json``: the script's payload plus ``machine``, the machine it was measured on
(`semid.machine.describe`, also stored in `semid bench` results), and, for scripts with a table,
``<out>/<name>.md`` rendered from that same result.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from semid.machine import describe

BUNDLED_DATASETS = ("movielens", "wordnet")
RESULTS_DIR = Path("benchmarks/results")


def parser(description: str | None, *, dataset: bool = False) -> argparse.ArgumentParser:
    """An argument parser with ``--out`` (the results folder) and, with `dataset`, ``--dataset`` (a bundled
    one, required) and ``--runs`` (where it is prepared and embedded the first time)."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    if dataset:
        ap.add_argument("--dataset", choices=BUNDLED_DATASETS, required=True)
        ap.add_argument("--runs", default="runs", help="folder of the prepared datasets and trained models")
    ap.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder the result files are written to")
    return ap


def write_result(
    name: str,
    payload: Mapping[str, Any],
    out_dir: str | Path,
    markdown: Callable[[dict[str, Any]], str] | None = None,
) -> Path:
    """Write ``<out_dir>/<name>.json`` (the payload with ``machine`` set to this machine) and, with `markdown`,
    ``<out_dir>/<name>.md`` (`markdown` of that result); the JSON file's path. A value JSON cannot hold (a
    path, a torch device) is written as its str rather than losing the run's measurements."""
    result = {**payload, "machine": describe()}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    if markdown is not None:
        path.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
    return path
