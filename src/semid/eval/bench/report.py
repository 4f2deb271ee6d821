"""The bench's HTML report: the results table plus recall@K curves, head/tail/cold bars, code lengths, valid
R@10 against training time (semid.eval.bench.training_curves) and, for a bench of several SA²CRQ depth
budgets, the budget sweep (semid.eval.bench.depth_budgets).

It reads the results.json payload (`BenchResults.to_dict()`) and is given the results already rendered as
Markdown (results.md), which becomes the page's text and tables: one source for both, so they cannot disagree."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from markdown_it import MarkdownIt
from matplotlib.figure import Figure

from semid.eval.bench.depth_budgets import MIN_BUDGETS, budget_rows, plot_budget_sweep
from semid.eval.bench.training_curves import mean_curve, timed_curves
from semid.eval.metrics import KS
from semid.reporting import NOT_AVAILABLE, figure_html, key_value_table, page

SPLITS = ("head", "tail", "cold")
MARKERS = "osD^v<>ph*X"


def _mean(seeds: dict[str, Any], split: str, metric: str) -> float:
    vals = [s["splits"].get(split, {}).get(metric) for s in seeds.values()]
    vals = [v for v in vals if v is not None and not np.isnan(v)]
    return float(np.mean(vals)) if vals else float("nan")


def _style(i: int) -> dict[str, Any]:
    """Line style of the i-th method: ten colours, solid then dashed, each with its own marker, so that a
    dozen methods stay apart (matplotlib's default cycle repeats after ten)."""
    return {"color": f"C{i % 10}", "ls": ("-", "--", ":")[i // 10 % 3], "marker": MARKERS[i % len(MARKERS)]}


def _legend_outside(ax: Any) -> None:
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def plot_recall_curves(results: dict[str, Any]) -> Figure:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, (method, seeds) in enumerate(results["methods"].items()):
        ax.plot(KS, [_mean(seeds, "all", f"recall@{k}") for k in KS], label=method, **_style(i))
    ax.set_xscale("log")
    ax.set_xlabel("K")
    ax.set_ylabel("Recall@K (mean over seeds)")
    ax.set_title("Recall@K, all test queries")
    ax.grid(alpha=0.3)
    _legend_outside(ax)
    return fig


def plot_split_bars(results: dict[str, Any], metric: str = "recall@100") -> Figure:
    """Bars per method and test-target group; a group without test queries, or a method without the value,
    is marked n/a rather than drawn as 0."""
    methods = list(results["methods"])
    n_test = results["data"].get("n_test", {})
    fig, ax = plt.subplots(figsize=(max(7, 0.75 * len(methods)), 4))
    x = np.arange(len(methods))
    for i, split in enumerate(SPLITS):
        xs = x + (i - 1) * 0.27
        if n_test.get(split, 1) == 0:
            ax.bar(xs, np.zeros(len(methods)), width=0.27, label=f"{split}: {NOT_AVAILABLE}, no test queries")
            continue
        vals = np.array([_mean(results["methods"][m], split, metric) for m in methods])
        bars = ax.bar(xs, np.nan_to_num(vals), width=0.27, label=f"{split} ({n_test.get(split, '?')} queries)")
        for bar_x, v in zip(xs, vals, strict=True):
            if np.isnan(v):
                ax.text(
                    bar_x,
                    0,
                    NOT_AVAILABLE,
                    rotation=90,
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    color=bars.patches[0].get_facecolor(),
                )
    ax.set_xticks(x, methods, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} by test-target group")
    _legend_outside(ax)
    return fig


def ret_per_bars(results: dict[str, Any]) -> Figure | None:
    """Ret-Per per head / tail / cold target: a coarse tail SID shows here as many items behind the tail's
    beams. Benches from before Ret-Per was split have no figure."""
    runs = [run for seeds in results["methods"].values() for run in seeds.values()]
    if not any("ret_per" in run["splits"].get(split, {}) for run in runs for split in SPLITS):
        return None
    return plot_split_bars(results, "ret_per")


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
    fig, ax = plt.subplots(figsize=(max(7, 0.75 * len(rows)), 4))
    bottom = np.zeros(len(rows))
    for length in range(1, width):
        share = np.array([c[length] if length < len(c) else 0.0 for _, c in rows])
        ax.bar([m for m, _ in rows], share, bottom=bottom, label=f"length {length}")
        bottom += share
    ax.set_ylabel("share of items")
    ax.set_title("SID length distribution (seed 0, cold items included)")
    ax.tick_params(axis="x", rotation=45, labelsize=8)
    _legend_outside(ax)
    return fig


def plot_time_to_quality(results: dict[str, Any]) -> Figure | None:
    """Valid R@10 after each epoch against training minutes so far, a line per generative method (the mean
    over seeds, each seed's own line faint); None when no run kept its epoch times."""
    order = list(results["methods"])  # a method keeps the colour it has in the other figures
    curves = timed_curves(results["methods"])
    if not curves:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for method, seeds in curves.items():
        style = _style(order.index(method))
        if len(seeds) > 1:
            for minutes, recall in seeds:
                ax.plot(minutes, recall, **style, alpha=0.25, lw=1, ms=3)
        ax.plot(*mean_curve(seeds), label=f"{method} ({len(seeds)} seed{'s' * (len(seeds) > 1)})", **style)
    ax.set_xlabel("training minutes (cumulative, validation excluded)")
    ax.set_ylabel("valid R@10")
    ax.set_title("Valid R@10 after each epoch: mean over seeds up to the shortest run; faint: each seed", fontsize=10)
    ax.grid(alpha=0.3)
    _legend_outside(ax)
    return fig


def markdown_html(text: str) -> str:
    """CommonMark with GitHub's tables; raw HTML in `text` is shown as text, never interpreted."""
    rendered = MarkdownIt("commonmark", {"html": False}).enable("table").render(text)
    rendered = rendered.replace(" ± ", " ±\u00a0")  # a narrow window may break a cell before its CI, not inside
    return rendered.replace("<table>", "<div class='table-wrap'><table>").replace("</table>", "</table></div>")


def render_html(results: dict[str, Any], table_markdown: str) -> str:
    """The report page: `table_markdown` rendered (headings, text, tables), the figures, the configuration."""
    figures = [
        ("Recall@K", plot_recall_curves(results)),
        ("Head, tail and cold test targets", plot_split_bars(results)),
        ("Items retrieved per query (Ret-Per) by test target", ret_per_bars(results)),
        ("SID lengths", plot_code_lengths(results)),
        ("Time to quality: valid R@10 against training minutes", plot_time_to_quality(results)),
    ]
    budgets = budget_rows(results)
    if len(budgets) >= MIN_BUDGETS:  # a tau sweep (semid.eval.bench.depth_budgets)
        figures.append(("SA²CRQ depth budgets", plot_budget_sweep(budgets, results["dataset"])))
    body = markdown_html(table_markdown) + "".join(figure_html(name, fig) for name, fig in figures if fig is not None)
    if results.get("config"):
        body += "<h2>Configuration</h2>" + key_value_table(results["config"])
    if results.get("machine"):
        body += "<h2>Machine</h2>" + key_value_table(results["machine"])
    return page(f"semid bench: {results['dataset']}", body)
