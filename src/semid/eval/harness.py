"""The bench's former module, kept so that existing imports keep working; the bench is `semid.eval.bench`."""

from __future__ import annotations

from typing import Any

from semid.eval.bench import ALL_METHODS, BenchConfig, BenchData, BenchResults, mean_ci, run_baseline, run_bench


def results_markdown(results: BenchResults | dict[str, Any]) -> str:
    """The results.md table of a `BenchResults` or of a results.json payload."""
    return (results if isinstance(results, BenchResults) else BenchResults.from_dict(results)).to_markdown()


__all__ = ["ALL_METHODS", "BenchConfig", "BenchData", "mean_ci", "results_markdown", "run_baseline", "run_bench"]
