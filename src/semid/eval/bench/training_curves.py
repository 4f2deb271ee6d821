"""Time to quality: each generative run's valid R@10 after every training epoch against the training time
spent so far. The bench report draws it (semid.eval.bench.report) and results.md sums it up in a small table.

A run (method, seed) has a curve when its result holds ``valid_recall@10`` per epoch (run_generative).
Baselines have none, and a ``+exact`` row is the same run's beams ranked again, so it adds no curve. Runs
made before ``epoch_seconds`` was kept have the recalls but no times: a table row with no minutes, no line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from semid.eval.bench.config import EXACT_SUFFIX
from semid.eval.bench.results import mean_ci

NO_VALUE = "–"


@dataclass(frozen=True)
class SeedCurve:
    """One run's training, epoch by epoch."""

    recall: list[float]  # valid R@10 after each epoch
    minutes: list[float] | None  # training minutes up to each epoch's end (validation excluded); None: not kept

    @property
    def best_epoch(self) -> int:
        """The epoch the run kept (1-based): best valid R@10, ties to the later one, as fit_retriever does."""
        return len(self.recall) - int(np.argmax(self.recall[::-1]))


def training_curves(methods: dict[str, dict[str, Any]]) -> dict[str, list[SeedCurve]]:
    """method -> its seeds' curves, for every method with per-epoch valid R@10 (``+exact`` rows skipped)."""
    out: dict[str, list[SeedCurve]] = {}
    for method, seeds in methods.items():
        if method.endswith(EXACT_SUFFIX):
            continue
        curves = [curve for run in seeds.values() if (curve := _curve(run)) is not None]
        if curves:
            out[method] = curves
    return out


def _curve(run: dict[str, Any]) -> SeedCurve | None:
    recall = run.get("valid_recall@10") or []
    if not recall or any(r is None for r in recall):  # no valid records: nothing was measured per epoch
        return None
    seconds = run.get("epoch_seconds") or []
    minutes = list(np.cumsum(seconds) / 60.0) if len(seconds) == len(recall) else None
    return SeedCurve([float(r) for r in recall], [float(m) for m in minutes] if minutes else None)


def timed_curves(methods: dict[str, dict[str, Any]]) -> dict[str, list[tuple[list[float], list[float]]]]:
    """method -> (training minutes, valid R@10) at each epoch of every seed whose epoch times were kept."""
    out = {}
    for method, curves in training_curves(methods).items():
        timed = [(c.minutes, c.recall) for c in curves if c.minutes is not None]
        if timed:
            out[method] = timed
    return out


def mean_curve(timed: list[tuple[list[float], list[float]]]) -> tuple[list[float], list[float]]:
    """Mean training minutes and mean valid R@10 at each epoch that every seed reached: past the shortest
    run (early stopping) a mean over the runs still going would jump with who stopped, not with training."""
    epochs = min(len(recall) for _, recall in timed)
    minutes = np.mean([m[:epochs] for m, _ in timed], axis=0)
    recall = np.mean([r[:epochs] for _, r in timed], axis=0)
    return minutes.tolist(), recall.tolist()


def epoch_table(methods: dict[str, dict[str, Any]]) -> list[str]:
    """results.md's time-to-quality section: a row per generative method, or nothing when no run has epochs."""
    curves = training_curves(methods)
    if not curves:
        return []
    lines = [
        "## Training per epoch",
        "",
        "Per seed, the epochs trained and the one kept (best valid R@10); that epoch's valid R@10 (mean ± 95% CI "
        "over seeds); training minutes to it and in all (mean over seeds, validation excluded). report.html "
        "plots valid R@10 after every epoch against training minutes.",
        "",
        "| method | seeds | epochs | best epoch | best valid R@10 | minutes to best | minutes |",
        "|---|---|---|---|---|---|---|",
    ]
    for method, seeds in curves.items():
        best = [c.best_epoch for c in seeds]
        mean, ci = mean_ci([c.recall[b - 1] for c, b in zip(seeds, best, strict=True)])
        recall = f"{mean:.4f} ± {ci:.4f}" if ci > 0 else f"{mean:.4f}"
        timed = [(c.minutes, b) for c, b in zip(seeds, best, strict=True) if c.minutes is not None]
        to_best = _minutes([m[b - 1] for m, b in timed])
        total = _minutes([m[-1] for m, _ in timed])
        cells = [str(len(seeds)), _per_seed([len(c.recall) for c in seeds]), _per_seed(best), recall, to_best, total]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines


def _per_seed(values: list[int]) -> str:
    """One number when every seed agrees, else each seed's in order."""
    return str(values[0]) if len(set(values)) == 1 else ", ".join(map(str, values))


def _minutes(values: list[float]) -> str:
    return f"{np.mean(values):.2f}" if values else NO_VALUE
