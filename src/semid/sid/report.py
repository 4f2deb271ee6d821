"""A self-contained HTML diagnostics report: numbers plus PNG plots embedded as base64."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from semid.codes import Codes
from semid.reporting import NOT_AVAILABLE, figure_html, fmt, page
from semid.sid.diagnostics import SID_COLUMNS, length_text, sid_cells, sid_group_sizes, transition_matrix


def plot_token_distributions(codes: Codes, diag: dict[str, Any]) -> Figure:
    L = codes.n_layers
    fig, axes = plt.subplots(1, L, figsize=(4.2 * L, 3.2), squeeze=False, layout="constrained")
    for layer, ax in enumerate(axes[0]):
        stats = diag["layers"][layer]
        counts = np.bincount(codes.codes[codes.lengths > layer, layer], minlength=stats["codebook_size"])
        desc = np.sort(counts)[::-1]
        ax.bar(np.arange(desc.size), desc, width=1.0, color="#3b6ea8")
        ax.set_yscale("symlog")
        ax.set_title(
            f"layer {layer + 1}: gini {stats['gini']:.2f}, top1 {stats['top1_share']:.1%}\n"
            f"H/Hmax {stats['normalized_entropy']:.2f}, used {stats['utilization']:.0%}",
            fontsize=9,
        )
        ax.set_xlabel("token rank")
        ax.set_ylabel("items")
    return fig


def plot_hourglass(codes: Codes, diag: dict[str, Any]) -> Figure:
    """Left: effective width of each layer (2^entropy) against the codebook; right: layer transitions."""
    L = codes.n_layers
    sizes = diag["codebook_sizes"]
    n_trans = max(L - 1, 0)
    fig, axes = plt.subplots(1, 1 + n_trans, figsize=(4.2 * (1 + n_trans), 3.6), squeeze=False, layout="constrained")
    ax = axes[0][0]
    eff = [2 ** s["entropy"] for s in diag["layers"]]
    used = [s["utilization"] * s["codebook_size"] for s in diag["layers"]]
    ys = np.arange(L)[::-1]
    ax.barh(ys, sizes[:L], left=-np.asarray(sizes[:L]) / 2, color="#dddddd", label="codebook size")
    ax.barh(ys, used, left=-np.asarray(used) / 2, color="#9ab8d8", label="tokens used")
    ax.barh(ys, eff, left=-np.asarray(eff) / 2, color="#1f4e79", label="effective tokens (2^H)")
    ax.set_yticks(ys, [f"layer {i + 1}" for i in range(L)])
    ax.set_xticks([])
    ax.set_title("Layer width: a narrow middle is the hourglass", fontsize=9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=3)
    for layer in range(n_trans):
        mat = transition_matrix(codes, layer, sizes)
        rows = np.argsort(-mat.sum(axis=1), kind="stable")
        cols = np.argsort(-mat.sum(axis=0), kind="stable")
        axt = axes[0][1 + layer]
        axt.imshow(np.log1p(mat[rows][:, cols]), aspect="auto", cmap="magma", interpolation="nearest")
        stats = diag["layers"][layer]
        axt.set_title(
            f"layer {layer + 1} -> {layer + 2}: fan-out {stats['fan_out_mean']:.1f}, fan-in {stats['fan_in_mean']:.1f}",
            fontsize=9,
        )
        for axis in (axt.xaxis, axt.yaxis):
            axis.set_major_locator(MaxNLocator(integer=True))  # token ranks: no 0.5 ticks on small codebooks
        axt.set_xlabel(f"layer {layer + 2} token (by frequency)")
        axt.set_ylabel(f"layer {layer + 1} token (by frequency)")
    return fig


def plot_items_per_sid(codes: Codes, diag: dict[str, Any]) -> Figure:
    sizes = sid_group_sizes(codes)
    hist = np.bincount(sizes)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    xs = np.flatnonzero(hist)
    ax.bar(xs, hist[xs], color="#a83b3b", width=0.8 if xs.max() < 50 else 1.0)
    ax.set_yscale("log")
    if xs.max() >= 50:
        ax.set_xscale("log")
    ips = diag["items_per_sid"]
    ax.set_title(
        f"Items per SID: mean {ips['mean']:.2f}, p99 {ips['p99']:.0f}, max {ips['max']}; "
        f"collision rate {diag['collision_rate']:.1%}",
        fontsize=9,
    )
    ax.set_xlabel("items sharing one SID")
    ax.set_ylabel("number of SIDs")
    return fig


def plot_lengths(diag: dict[str, Any]) -> Figure:
    L = diag["n_layers"]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    xs = np.arange(1, L + 1)
    for shift, part, color in ((-0.2, "head", "#1f4e79"), (0.2, "tail", "#d08a2c")):
        summary = diag["length"][part]
        counts = np.array([summary["histogram"][str(i)] for i in xs], dtype=np.float64)
        share = counts / max(counts.sum(), 1)
        label = f"{part} (mean {fmt(summary['mean'])})" if summary["n_items"] else f"{part}: no items"
        ax.bar(xs + shift, share, width=0.4, color=color, label=label)
    ax.set_xticks(xs)
    ax.set_xlabel("code length (layers)")
    ax.set_ylabel("share of items")
    ax.set_title("Code length by head and tail", fontsize=9)
    ax.legend(fontsize=8)
    return fig


def _layer_table(diag: dict[str, Any]) -> str:
    cols = [
        "layer",
        "codebook_size",
        "n_items",
        "entropy",
        "normalized_entropy",
        "gini",
        "std",
        "utilization",
        "top1_share",
        "top10_share",
        "n_prefixes",
        "path_sparsity",
        "fan_out_mean",
        "fan_in_mean",
    ]
    head = "".join(f"<th>{c.replace('_', ' ')}</th>" for c in cols)  # spaces: long names may wrap
    rows = []
    for s in diag["layers"]:
        cells = []
        for c in cols:
            v = s.get(c, NOT_AVAILABLE)  # fan-in/out of the last layer: there is no next layer
            cells.append(f"<td>{v:.4g}</td>" if isinstance(v, float) else f"<td>{html.escape(str(v))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<div class='table-wrap'><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"


def _sid_table(diag: dict[str, Any]) -> str:
    """SIDs and items per SID over all items, the head items alone and the tail items alone."""
    overall = {k: diag[k] for k in ("n_items", "n_sids", "items_per_sid")}
    parts = {"all": overall, **diag["sids_by_part"]}
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ("part", "items", *SID_COLUMNS))
    rows = [
        f"<tr><td>{part}</td><td>{summary['n_items']:,}</td>"
        + "".join(f"<td>{cell}</td>" for cell in sid_cells(summary))
        + "</tr>"
        for part, summary in parts.items()
    ]
    return f"<div class='table-wrap'><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"


def render_report(codes: Codes, diag: dict[str, Any], title: str = "SID diagnostics") -> str:
    figures = [
        ("Token frequency per layer (sorted, symlog)", plot_token_distributions(codes, diag)),
        ("Hourglass: layer widths, and fan-in / fan-out between layers (log counts)", plot_hourglass(codes, diag)),
        ("Collisions", plot_items_per_sid(codes, diag)),
        ("Code lengths", plot_lengths(diag)),
    ]
    ips = diag["items_per_sid"]
    summary = (
        f"<ul><li>{diag['n_items']:,} items, {diag['n_sids']:,} SIDs, {diag['n_layers']} layers "
        f"(codebooks {diag['codebook_sizes']})</li>"
        f"<li>collision rate {diag['collision_rate']:.2%}; "
        f"items in a shared SID {diag['colliding_item_share']:.2%}</li>"
        f"<li>items per SID: mean {ips['mean']:.3f}, p80 {ips['p80']:.0f}, p90 {ips['p90']:.0f}, "
        f"p99 {ips['p99']:.0f}, p99.9 {ips['p999']:.0f}, max {ips['max']}</li>"
        f"<li>path sparsity {diag['path_sparsity']:.3g}</li>"
        f"<li>{length_text(diag['length'])}</li></ul>"
    )
    figs = "".join(figure_html(name, fig) for name, fig in figures)
    sids = f"<h2>Items per SID, overall and by part (the SA²CRQ paper's Table 2)</h2>{_sid_table(diag)}"
    body = f"<h1>{html.escape(title)}</h1>{summary}{sids}<h2>Per layer</h2>{_layer_table(diag)}{figs}"
    return page(title, body)


def write_report(codes: Codes, diag: dict[str, Any], path: str | Path, title: str = "SID diagnostics") -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(codes, diag, title), encoding="utf-8")
    return out
