"""SA²CRQ at several depth budgets in one bench (a tau sweep): a row per budget and one figure against it.

A budget is a method whose tokenizer is SA²CRQ with only ``min_items`` set: sa2crq_m3/m5/m10 of
`GENERATIVE` or any sa2crq_m<N>. A code goes one layer deeper while at least N fitted items share its
prefix, i.e. while the prefix's probability exceeds tau = (N - 0.5) / warm items
(semid.tokenize.prefix.resolve_tau); each run records the tau it resolved to (runs made before it did
have none). A small N gives long, nearly unique codes; a large N stops codes early, so fewer SIDs, each
holding more items, and more items retrieved per beam (Ret-Per).

Both read the results.json payload (`BenchResults.to_dict()`): the bench report shows the figure once a
bench holds `MIN_BUDGETS` budgets, and benchmarks/bench_tau_sweep.py writes the table and the figure.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from semid.eval.bench.config import EXACT_SUFFIX, generative_spec
from semid.eval.bench.results import mean_ci
from semid.reporting import NOT_AVAILABLE, fmt

MIN_BUDGETS = 3  # fewer budgets than this draw no curve worth a figure in the bench report
RECALLS = [(part, k) for k in (10, 100) for part in ("head", "tail")]
PART_COLOURS = {"head": "C0", "tail": "C1"}
RANKINGS = {"recall": ("-", "beam order"), "exact_recall": ("--", "exact rank (item vectors)")}


def sa2crq_budgets(methods: Iterable[str]) -> dict[str, int]:
    """method -> min_items of every SA²CRQ depth budget among `methods`, smallest budget first."""
    found = {}
    for method in methods:
        spec = generative_spec(method)
        if spec is not None and spec[0] == "sa2crq" and set(spec[1]) == {"min_items"}:
            found[method] = int(spec[1]["min_items"])
    return dict(sorted(found.items(), key=lambda item: item[1]))


def budget_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per SA²CRQ budget of a results.json payload, smallest first: means over seeds of tau, #SIDs,
    code lengths, Ret-Per and Hallu; head / tail R@10 and R@100 as [mean, 95% CI half-width] under
    ``recall`` (beam order) and, where the bench ranked the same beams by item vector, ``exact_recall``.
    A value no run has is None."""
    rows = []
    for method, min_items in sa2crq_budgets(results["methods"]).items():
        seeds = results["methods"][method]
        row: dict[str, Any] = {
            "method": method,
            "min_items": min_items,
            "seeds": len(seeds),
            "tau": _mean(run.get("tau") for run in seeds.values()),
            "n_sids": _mean(run.get("n_sids") for run in seeds.values()),
            "length_head": _mean(run.get("code_length_head") for run in seeds.values()),
            "length_tail": _mean(run.get("code_length_tail") for run in seeds.values()),
            "ret_per": _mean(_metric(seeds, "all", "ret_per")),
            "hallucination": _mean(_metric(seeds, "all", "hallucination")),
            "recall": _recalls(seeds),
        }
        exact = results["methods"].get(method + EXACT_SUFFIX)
        if exact:
            row["exact_recall"] = _recalls(exact)
        rows.append(row)
    return rows


def _metric(seeds: dict[str, Any], split: str, metric: str) -> list[float | None]:
    return [run["splits"].get(split, {}).get(metric) for run in seeds.values()]


def _present(values: Iterable[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and not np.isnan(v)]


def _mean(values: Iterable[float | None]) -> float | None:
    present = _present(values)
    return float(np.mean(present)) if present else None


def _recalls(seeds: dict[str, Any]) -> dict[str, list[float] | None]:
    out: dict[str, list[float] | None] = {}
    for part, k in RECALLS:
        present = _present(_metric(seeds, part, f"recall@{k}"))
        out[f"{part} R@{k}"] = list(mean_ci(present)) if present else None  # None: no queries in that part
    return out


def _recall_cell(value: list[float] | None) -> str:
    if value is None:
        return NOT_AVAILABLE
    mean, ci = value
    return f"{mean:.4f} ± {ci:.4f}" if ci > 0 else f"{mean:.4f}"


def budget_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table; the exact-rank columns only when some row has them."""
    recall_cols = [f"{part} R@{k}" for part, k in RECALLS]
    rankings = [key for key in RANKINGS if any(key in row for row in rows)]
    header = ["min_items", "tau", "seeds", "#SID", "len head", "len tail", "Ret-Per", "Hallu"]
    header += [(f"exact {col}" if key == "exact_recall" else col) for key in rankings for col in recall_cols]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [
            str(row["min_items"]),
            fmt(row["tau"], ".2e"),
            str(row["seeds"]),
            fmt(row["n_sids"], ".0f"),
            fmt(row["length_head"]),
            fmt(row["length_tail"]),
            fmt(row["ret_per"], ".1f"),
            fmt(row["hallucination"], ".4f"),
        ]
        for key in rankings:
            recalls = row.get(key) or {}
            cells += [_recall_cell(recalls.get(col)) for col in recall_cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _values(rows: list[dict[str, Any]], key: str) -> np.ndarray:
    return np.array([np.nan if row[key] is None else row[key] for row in rows], dtype=np.float64)


def _budget_label(row: dict[str, Any]) -> str:
    return str(row["min_items"]) if row["tau"] is None else f"{row['min_items']}\n{row['tau']:.1e}"


def plot_budget_sweep(rows: list[dict[str, Any]], dataset: str) -> Figure:
    """Four panels against the budget (log scale, min_items with its tau below): #SIDs and mean code length
    head / tail; Ret-Per; head / tail R@10 and R@100 (mean ± 95% CI over seeds, beam order solid, exact
    rank dashed). One legend, outside the panels."""
    x = np.array([row["min_items"] for row in rows], dtype=np.float64)
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), sharex=True, layout="constrained")
    sids_ax, ret_ax, r10_ax, r100_ax = axes.flat
    sids_ax.plot(x, _values(rows, "n_sids"), color="k", marker="o", label="#SIDs (left axis)")
    sids_ax.set_ylabel("#SIDs")
    sids_ax.set_title("SIDs and code lengths")
    length_ax = sids_ax.twinx()
    for part, colour in PART_COLOURS.items():
        label = f"mean code length, {part} items (right axis)"
        length_ax.plot(x, _values(rows, f"length_{part}"), color=colour, ls="-.", marker="s", label=label)
    length_ax.set_ylabel("mean code length (layers)")
    length_ax.set_ylim(bottom=0)
    ret_ax.plot(x, _values(rows, "ret_per"), color="k", marker="D", label="Ret-Per (items retrieved per query)")
    ret_ax.set_ylim(bottom=0)
    ret_ax.set_ylabel("Ret-Per (items per query)")
    ret_ax.set_title("Items retrieved per query (beam)")
    for ax, k in ((r10_ax, 10), (r100_ax, 100)):
        for key, (ls, ranking) in RANKINGS.items():
            for part, colour in PART_COLOURS.items():
                values = [(row.get(key) or {}).get(f"{part} R@{k}") for row in rows]
                if all(v is None for v in values):
                    continue
                mean = np.array([np.nan if v is None else v[0] for v in values])
                ci = np.array([0.0 if v is None else v[1] for v in values])
                label = f"{part} test targets, {ranking}"
                ax.errorbar(x, mean, yerr=ci, color=colour, ls=ls, marker="o", capsize=3, label=label)
        ax.set_ylim(bottom=0)  # a CI reaching below 0 says only that the mean is near 0
        ax.set_ylabel(f"Recall@{k}")
        ax.set_title(f"Recall@{k} by test-target group")
    for ax in axes.flat:
        ax.set_xscale("log")
        ax.set_xticks(x, [_budget_label(row) for row in rows])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.grid(alpha=0.3)
    taus = any(row["tau"] is not None for row in rows)
    for ax in axes[1]:
        ax.set_xlabel("depth budget: min_items" + (" (tau below)" if taus else ""))
        ax.tick_params(axis="x", labelbottom=True)
    handles: dict[str, Any] = {}
    for ax in [sids_ax, length_ax, ret_ax, r10_ax, r100_ax]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    fig.legend(list(handles.values()), list(handles), loc="outside right center", fontsize=8, frameon=False)
    fig.suptitle(f"SA²CRQ depth budgets on {dataset}")
    return fig
