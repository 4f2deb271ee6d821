"""One row per tokenizer on a bundled dataset: fit time, SIDs, collisions, items-per-SID quantiles,
code length head/tail, per-layer utilisation/Gini/entropy (the data behind paper 001's Table 2 and Figs. 4-8), and a
second table with Table 2's columns over all, head and tail items beside the paper's SA²CRQ values.

    .venv/bin/python -m benchmarks.bench_tokenizers --dataset movielens
    .venv/bin/python -m benchmarks.bench_tokenizers --dataset wordnet
    .venv/bin/python -m benchmarks.bench_tokenizers --dataset movielens --max-items 1500 --out /tmp/b  # a check

Needs the dataset prepared and embedded in runs/<dataset> (the script does both when missing).
Writes benchmarks/results/tokenizers_<dataset>.json and .md; rows already there are not rerun.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from benchmarks.datasets import embedded_dataset
from benchmarks.report import parser, write_result
from semid.data import load_dataset
from semid.pipeline import ITEM_VECTORS
from semid.reporting import fmt
from semid.sid.diagnostics import SID_COLUMNS, compute_diagnostics, sid_cells
from semid.tokenize import make_tokenizer

SIZES = [256, 256, 256]
MIN_ITEMS = (3, 5, 10)  # the paper's tau in {5e-7, 1e-6, 2e-6} on 5M items is 2.5, 5 and 10 items
# Table 2 of "Towards Efficient and Generalizable Retrieval: Adaptive Semantic Quantization and Residual
# Knowledge Transfer" (arXiv:2602.23978): SA²CRQ on 5M items, 3 layers of 4096 codes, per head-stage split
PAPER_TABLE2 = {
    "[4096, 4096, 4096]": (2_897_000, 2.0, 3.0, 10.0, 32.0, 1.6597),
    "[1024, 2048, 4096]": (2_917_000, 2.0, 3.0, 10.0, 29.0, 1.6481),
    "[512, 512, 4096]": (2_806_000, 2.0, 3.0, 11.0, 29.0, 1.7130),
    "[2048, 2048, 4096]": (2_976_000, 2.0, 3.0, 10.0, 28.0, 1.6153),
}
UTIL_NOTE = (
    "util: the share of a layer's codes used by the items whose SID reaches that layer (under SARQ a layer that few "
    "SIDs reach cannot fill its codebook: see the length columns)."
)


def methods(vae_epochs: int) -> list[tuple[str, str, dict[str, Any]]]:
    rows: list[tuple[str, str, dict[str, Any]]] = [
        ("rq_kmeans", "rq_kmeans", {}),
        ("rq_vae (TIGER)", "rq_vae", {"epochs": vae_epochs}),
        ("rq_kmeans + top@32 fix", "rq_kmeans", {"hourglass": "top_k", "hourglass_k": 32}),
        ("acrq", "acrq", {}),
    ]
    rows += [(f"sarq (min_items={m})", "sarq", {"min_items": m}) for m in MIN_ITEMS]
    rows += [(f"sa2crq (min_items={m})", "sa2crq", {"min_items": m, "tail_depth": "catalogue"}) for m in MIN_ITEMS]
    rows += [("sa2crq (min_items=5), literal head tables", "sa2crq", {"min_items": 5, "tail_depth": "head_tables"})]
    vae = {"quantizer": "rq_vae", "epochs": vae_epochs}
    anchored_vae = {**vae, "freeze_encoder_in_tail": True}  # pinned: rows fitted before it are measured again
    rows += [
        ("sarq (min_items=5), rq_vae", "sarq", {**vae, "min_items": 5}),
        ("acrq, rq_vae", "acrq", anchored_vae),
        ("sa2crq (min_items=5), rq_vae", "sa2crq", {**anchored_vae, "min_items": 5, "tail_depth": "catalogue"}),
    ]
    return rows


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)  # None: no items in that part (an all-tail catalogue)


def _rounded_sids(summary: dict[str, Any]) -> dict[str, Any]:
    ips = summary["items_per_sid"]
    return {**summary, "items_per_sid": None if ips is None else {k: round(v, 3) for k, v in ips.items()}}


def summarize(
    label: str, method: str, options: dict[str, Any], diag: dict[str, Any], fit_s: float, tau: float | None
) -> dict[str, Any]:
    ips = diag["items_per_sid"]
    return {
        "label": label,
        "method": method,
        "options": options,
        "tau": tau,
        "fit_encode_s": round(fit_s, 2),
        "n_sids": diag["n_sids"],
        "collision_rate": round(diag["collision_rate"], 4),
        "items_per_sid": {k: round(v, 3) for k, v in ips.items()},
        "sids_by_part": {part: _rounded_sids(summary) for part, summary in diag["sids_by_part"].items()},
        **{f"length_{part}": _rounded(diag["length"][part]["mean"], 3) for part in ("head", "tail")},
        "gini": [round(layer["gini"], 3) for layer in diag["layers"]],
        "entropy": [round(layer["entropy"], 2) for layer in diag["layers"]],
        "top1_share": [round(layer["top1_share"], 4) for layer in diag["layers"]],
        "utilization": [round(layer["utilization"], 3) for layer in diag["layers"]],
    }


def label(row: dict[str, Any]) -> str:
    """A row's label, saying so when an SA²CRQ row was measured before ``tail_depth`` (the literal rule) or an
    ACRQ row on the RQ-VAE before its tail stage kept head codes (encoder trained on tail items)."""
    notes = [str(row["label"])]
    if row["method"] == "sa2crq" and "tail_depth" not in row["options"]:
        notes.append("[before tail_depth: literal head tables]")
    anchored_vae = row["options"].get("quantizer") == "rq_vae" and row["method"] in ("acrq", "sa2crq")
    if anchored_vae and "freeze_encoder_in_tail" not in row["options"]:
        notes.append("[before the frozen tail stage: head codes moved]")
    return " ".join(notes)


def markdown(result: dict[str, Any]) -> str:
    head = (
        "| method | tau | fit+encode s | #SID | collision | ips mean | p80 | p90 | p99 | p99.9 | max "
        "| len head | len tail | util L1/L2/L3 | gini L1/L2/L3 | entropy L1/L2/L3 |\n"
    )
    head += "|" + "---|" * 16 + "\n"
    lines = []
    for r in result["rows"]:
        ips = r["items_per_sid"]
        tau = f"{r['tau']:.2e}" if r["tau"] else "-"
        lines.append(
            f"| {label(r)} | {tau} | {r['fit_encode_s']} | {r['n_sids']} | {r['collision_rate']:.2%} "
            f"| {ips['mean']:.2f} "
            f"| {ips['p80']:.0f} | {ips['p90']:.0f} | {ips['p99']:.0f} | {ips['p999']:.0f} | {ips['max']} "
            f"| {fmt(r['length_head'])} | {fmt(r['length_tail'])} | {'/'.join(map(str, r['utilization']))} "
            f"| {'/'.join(map(str, r['gini']))} "
            f"| {'/'.join(map(str, r['entropy']))} |"
        )
    m = result["machine"]
    return (
        f"# Tokenizers on {result['dataset']} ({result['n_items']:,} items, {result['n_head']:,} head)\n\n"
        f"Codebooks {SIZES}; command `{result['command']}`; machine: {m['cpu']}, {m['cores_available']} cores, "
        f"GPU {m['gpu']}.\n\n{UTIL_NOTE}\n\n" + head + "\n".join(lines) + "\n\n" + table2(result["rows"])
    )


def table2(rows: list[dict[str, Any]]) -> str:
    """Table 2's columns for every row over all items and over the head and tail items alone, then the paper's."""
    out = [
        "## Items per SID as in the paper's Table 2\n",
        "Head and tail rows count each part's own items (a SID holding both counts in both). The paper's rows are "
        "SA²CRQ in Table 2 of arXiv:2602.23978: 5M items, 3 layers of 4096 codes, the head-stage split in brackets; "
        "its #SID is in millions of SIDs for 5M items, so compare the quantiles and the mean.\n",
        "| method | items | " + " | ".join(SID_COLUMNS) + " |",
        "|" + "---|" * (len(SID_COLUMNS) + 2),
    ]
    for r in rows:
        overall = {"n_sids": r["n_sids"], "items_per_sid": r["items_per_sid"]}
        for part, summary in {"all": overall, **r.get("sids_by_part", {})}.items():
            out.append(f"| {label(r)} | {part} | " + " | ".join(sid_cells(summary)) + " |")
    for split, (n_sids, *quantiles, mean) in PAPER_TABLE2.items():
        cells = [f"{n_sids / 1e6:.3f}M", *(f"{q:.1f}" for q in quantiles), f"{mean:.3f}"]
        out.append(f"| paper: SA²CRQ {split} | all | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = parser(__doc__, dataset=True)
    ap.add_argument("--vae-epochs", type=int, default=20)
    ap.add_argument("--max-items", type=int, default=None, help="only the first N items: a quick check, not a result")
    args = ap.parse_args()
    data_dir = embedded_dataset(args.dataset, args.runs)
    ds = load_dataset(data_dir)
    x = np.load(data_dir / ITEM_VECTORS)[: args.max_items]
    is_head = ds.items["is_head"].to_numpy()[: args.max_items]
    name = f"tokenizers_{args.dataset}" + (f"_first{args.max_items}" if args.max_items else "")
    path = args.out / f"{name}.json"
    result: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"rows": []}
    result.update(
        dataset=args.dataset,
        n_items=int(x.shape[0]),
        n_head=int(is_head.sum()),
        command=f"python -m benchmarks.bench_tokenizers --dataset {args.dataset} --vae-epochs {args.vae_epochs}"
        + (f" --max-items {args.max_items}" if args.max_items else ""),
    )
    done = {r["label"]: i for i, r in enumerate(result["rows"])}
    for label, method, options in methods(args.vae_epochs):
        if label in done and result["rows"][done[label]]["options"] == options:
            continue  # a row measured with other options (e.g. before tail_depth existed) is measured again
        tok = make_tokenizer(method, codebook_sizes=SIZES, show_progress=False, **options)
        start = time.perf_counter()
        tok.fit(x, is_head=is_head)
        codes = tok.encode(x, is_head=is_head)
        seconds = time.perf_counter() - start
        diag = compute_diagnostics(codes, tok.codebook_sizes, is_head)
        tau = getattr(tok, "tau", None)
        if tau is None and hasattr(tok, "base"):
            tau = getattr(tok.base, "tau", None)
        row = summarize(label, method, options, diag, seconds, float(tau) if tau else None)
        if label in done:
            result["rows"][done[label]] = row
        else:
            result["rows"].append(row)
        print(f"{label}: {seconds:.1f}s, {row['n_sids']} SIDs, len head/tail {row['length_head']}/{row['length_tail']}")
        write_result(name, result, args.out, markdown)


if __name__ == "__main__":
    main()
