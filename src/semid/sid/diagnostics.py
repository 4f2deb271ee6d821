"""What is wrong with a set of SIDs, as numbers.

Pure functions over codes. Per layer: token distribution statistics (entropy, Gini, std,
utilisation, the share of the top tokens: the "super-routers" of the hourglass), path sparsity,
fan-in/fan-out between consecutive layers. Overall: SIDs, collisions, items per SID, code lengths;
SIDs and items per SID also over the head items' codes alone and over the tail items' alone, and code
lengths split by head and tail.

The per-layer statistics and the layer-to-layer connections are those with which "Breaking the
Hourglass Phenomenon of Residual Quantization: Enhancing the Upper Bound of Generative Retrieval"
(arXiv:2407.21488) shows the hourglass (Figs. 2-4); the SID counts, items-per-SID quantiles and head/tail
code lengths those of "Towards Efficient and Generalizable Retrieval: Adaptive Semantic Quantization and
Residual Knowledge Transfer" (arXiv:2602.23978; Table 2, Figs. 4-8).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from semid.codes import Codes
from semid.reporting import NOT_AVAILABLE, fmt

QUANTILES = {"p80": 0.80, "p90": 0.90, "p99": 0.99, "p999": 0.999}


def entropy_bits(counts: np.ndarray) -> float:
    total = counts.sum()
    if total == 0:
        return 0.0
    p = counts[counts > 0] / total
    return float(-(p * np.log2(p)).sum())


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of a count vector (0: uniform, -> 1: all mass on one entry); zeros count."""
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n, total = x.shape[0], x.sum()
    if n == 0 or total == 0:
        return 0.0
    ranks = np.arange(1, n + 1)
    return float(((2 * ranks - n - 1) * x).sum() / (n * total))


def token_stats(counts: np.ndarray) -> dict[str, float]:
    """Statistics of one layer's token counts (length = codebook size, unused codes as 0): entropy, Gini and
    std as in Fig. 3 of the hourglass paper (module docstring), utilisation and the top tokens' share."""
    size = counts.shape[0]
    total = int(counts.sum())
    ent = entropy_bits(counts)
    desc = np.sort(counts)[::-1]
    cum = np.cumsum(desc) / max(total, 1)
    return {
        "n_items": total,
        "entropy": ent,
        "normalized_entropy": ent / np.log2(size) if size > 1 else 0.0,
        "gini": gini(counts),
        "std": float(counts.std()),
        "utilization": float((counts > 0).mean()),
        "top1_share": float(desc[0] / total) if total else 0.0,
        "top10_share": float(desc[:10].sum() / total) if total else 0.0,
        "tokens_for_half_of_items": int(np.searchsorted(cum, 0.5) + 1) if total else 0,
    }


def _distinct_rows(rows: np.ndarray) -> int:
    if rows.shape[0] == 0:
        return 0
    return int(np.unique(rows, axis=0).shape[0])


def fan_stats(prev_tokens: np.ndarray, next_tokens: np.ndarray) -> dict[str, float]:
    """Fan-out of layer l tokens into layer l+1 and fan-in of layer l+1 tokens from layer l."""
    if prev_tokens.shape[0] == 0:
        return {"fan_out_mean": 0.0, "fan_out_max": 0, "fan_in_mean": 0.0, "fan_in_max": 0}
    pairs = np.unique(np.stack([prev_tokens, next_tokens], axis=1), axis=0)
    _, fan_out = np.unique(pairs[:, 0], return_counts=True)
    _, fan_in = np.unique(pairs[:, 1], return_counts=True)
    return {
        "fan_out_mean": float(fan_out.mean()),
        "fan_out_max": int(fan_out.max()),
        "fan_in_mean": float(fan_in.mean()),
        "fan_in_max": int(fan_in.max()),
    }


def sid_group_sizes(codes: Codes) -> np.ndarray:
    """Number of items of each distinct SID."""
    keyed = np.where(np.arange(codes.n_layers)[None, :] < codes.lengths[:, None], codes.codes, -1)
    _, sizes = np.unique(keyed, axis=0, return_counts=True)
    return sizes


def items_per_sid(group: np.ndarray) -> dict[str, Any] | None:
    """Mean, quantiles 80/90/99/99.9% and max of the items per SID (`group`: sid_group_sizes); None for no SIDs."""
    if not group.size:
        return None
    return {
        "mean": float(group.mean()),
        **{k: float(np.quantile(group, q)) for k, q in QUANTILES.items()},
        "max": int(group.max()),
    }


def sid_summary(codes: Codes) -> dict[str, Any]:
    """The columns of Table 2 of the SA²CRQ paper (module docstring) for these codes: items, SIDs, items per SID."""
    group = sid_group_sizes(codes)
    return {"n_items": codes.n_items, "n_sids": int(group.shape[0]), "items_per_sid": items_per_sid(group)}


SID_COLUMNS = ("#SID", "80%", "90%", "99%", "99.9%", "mean")  # Table 2 of the SA²CRQ paper (module docstring)


def sid_cells(summary: dict[str, Any]) -> list[str]:
    """A sid_summary as the text of the SID_COLUMNS cells (items per SID n/a when there are no items)."""
    ips = summary["items_per_sid"]
    if ips is None:
        return [f"{summary['n_sids']:,}"] + [NOT_AVAILABLE] * (len(SID_COLUMNS) - 1)
    return [f"{summary['n_sids']:,}", *(fmt(ips[k], ".1f") for k in QUANTILES), fmt(ips["mean"], ".3f")]


def part_of(codes: Codes, rows: np.ndarray) -> Codes:
    """The codes of the items `rows` selects."""
    return Codes(codes.codes[rows], codes.lengths[rows])


def length_summary(lengths: np.ndarray, n_layers: int) -> dict[str, Any]:
    """Mean and histogram of code lengths; the mean of no items (e.g. the head of an all-tail catalogue) is None."""
    hist = np.bincount(lengths, minlength=n_layers + 1)[1:]
    return {
        "mean": float(lengths.mean()) if lengths.size else None,
        "n_items": int(lengths.size),
        "histogram": {str(i + 1): int(c) for i, c in enumerate(hist)},
    }


def length_text(length: dict[str, Any]) -> str:
    """The code-length line of a report: mean overall, of head and of tail items; n/a for a part with no items."""
    parts = [
        f"{part} {fmt(length[part]['mean'])}" if length[part]["n_items"] else f"{part} n/a: no {part} items"
        for part in ("head", "tail")
    ]
    return f"mean code length {fmt(length['mean'])} ({', '.join(parts)})"


def compute_diagnostics(codes: Codes, codebook_sizes: list[int], is_head: np.ndarray | None = None) -> dict[str, Any]:
    """Every diagnostic of this module as a JSON-ready dict: per layer, then over the whole set of SIDs."""
    L = codes.n_layers
    sizes = codebook_sizes[:L]
    layers: list[dict[str, Any]] = []
    for layer in range(L):
        active = codes.lengths > layer
        tokens = codes.codes[active, layer]
        stats: dict[str, Any] = {"layer": layer + 1, "codebook_size": sizes[layer]}
        stats.update(token_stats(np.bincount(tokens, minlength=sizes[layer])))
        prefixes = _distinct_rows(codes.codes[active, : layer + 1])
        stats["n_prefixes"] = prefixes
        stats["path_sparsity"] = prefixes / float(np.prod(np.asarray(sizes[: layer + 1], dtype=np.float64)))
        if layer + 1 < L:
            both = codes.lengths > layer + 1
            stats.update(fan_stats(codes.codes[both, layer], codes.codes[both, layer + 1]))
        layers.append(stats)

    group = sid_group_sizes(codes)
    n_items, n_sids = codes.n_items, int(group.shape[0])
    head = np.zeros(n_items, dtype=bool) if is_head is None else np.asarray(is_head, dtype=bool)
    return {
        "n_items": n_items,
        "n_sids": n_sids,
        "n_layers": L,
        "codebook_sizes": list(sizes),
        "layers": layers,
        "path_sparsity": n_sids / float(np.prod(np.asarray(sizes, dtype=np.float64))),
        "collision_rate": 1.0 - n_sids / n_items if n_items else 0.0,
        "colliding_item_share": float(group[group > 1].sum() / n_items) if n_items else 0.0,
        "items_per_sid": items_per_sid(group),
        # a SID holding head and tail items counts in both parts, with that part's items only
        "sids_by_part": {"head": sid_summary(part_of(codes, head)), "tail": sid_summary(part_of(codes, ~head))},
        "length": {
            **length_summary(codes.lengths, L),
            "head": length_summary(codes.lengths[head], L),
            "tail": length_summary(codes.lengths[~head], L),
        },
    }


def transition_matrix(codes: Codes, layer: int, codebook_sizes: list[int]) -> np.ndarray:
    """Counts of (token at `layer`, token at `layer`+1) over items that have both layers."""
    both = codes.lengths > layer + 1
    mat = np.zeros((codebook_sizes[layer], codebook_sizes[layer + 1]), dtype=np.int64)
    np.add.at(mat, (codes.codes[both, layer], codes.codes[both, layer + 1]), 1)
    return mat
