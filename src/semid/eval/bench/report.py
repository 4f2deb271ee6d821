"""The bench's HTML report: the results table plus recall@K curves, head/tail/cold bars, code lengths.

It reads the results.json payload (`BenchResults.to_dict()`) and is given the table already rendered."""

from __future__ import annotations

import html
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from semid.eval.metrics import KS
from semid.sid.report import _png


def _mean(seeds: dict[str, Any], split: str, metric: str) -> float:
    vals = [s["splits"].get(split, {}).get(metric) for s in seeds.values()]
    vals = [v for v in vals if v is not None and not np.isnan(v)]
    return float(np.mean(vals)) if vals else float("nan")


def plot_recall_curves(results: dict[str, Any]) -> Figure:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method, seeds in results["methods"].items():
        ax.plot(KS, [_mean(seeds, "all", f"recall@{k}") for k in KS], marker="o", label=method)
    ax.set_xscale("log")
    ax.set_xlabel("K")
    ax.set_ylabel("Recall@K (mean over seeds)")
    ax.set_title("Recall@K, all test queries")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    return fig


def plot_split_bars(results: dict[str, Any], metric: str = "recall@100") -> Figure:
    methods = list(results["methods"])
    splits = ("head", "tail", "cold")
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(methods)), 4))
    x = np.arange(len(methods))
    for i, split in enumerate(splits):
        vals = [_mean(results["methods"][m], split, metric) for m in methods]
        ax.bar(x + (i - 1) * 0.27, np.nan_to_num(vals), width=0.27, label=split)
    ax.set_xticks(x, methods, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} by test-target group")
    ax.legend()
    return fig


def plot_code_lengths(results: dict[str, Any]) -> Figure | None:
    rows = []
    for method, seeds in results["methods"].items():
        first = next(iter(seeds.values()))
        if "code_lengths" in first:
            counts = np.asarray(first["code_lengths"], dtype=np.float64)
            rows.append((method, counts / max(counts.sum(), 1)))
    if not rows:
        return None
    width = max(len(c) for _, c in rows)
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(rows)), 4))
    bottom = np.zeros(len(rows))
    for length in range(1, width):
        share = np.array([c[length] if length < len(c) else 0.0 for _, c in rows])
        ax.bar([m for m, _ in rows], share, bottom=bottom, label=f"length {length}")
        bottom += share
    ax.set_ylabel("share of items")
    ax.set_title("SID length distribution (seed 0, cold items included)")
    ax.tick_params(axis="x", rotation=45, labelsize=8)
    ax.legend(fontsize=7)
    return fig


def render_html(results: dict[str, Any], table_markdown: str) -> str:
    """The report page: `table_markdown` as it is, the three figures, and the configuration."""
    figures = [plot_recall_curves(results), plot_split_bars(results), plot_code_lengths(results)]
    images = "".join(f'<img src="data:image/png;base64,{_png(f)}">' for f in figures if f is not None)
    table = html.escape(table_markdown)
    config = html.escape(str(results["config"]))
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>semid bench: {html.escape(results['dataset'])}"
        "</title><style>body{font-family:sans-serif;max-width:1100px;margin:auto}img{max-width:100%;margin:8px 0}"
        "pre{white-space:pre-wrap;font-size:12px}</style></head><body>"
        f"<h1>semid bench: {html.escape(results['dataset'])}</h1><pre>{table}</pre>{images}"
        f"<h2>Configuration</h2><pre>{config}</pre></body></html>"
    )
