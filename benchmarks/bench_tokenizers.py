"""One row per tokenizer on a bundled dataset: fit time, SIDs, collisions, items-per-SID quantiles,
code length head/tail, per-layer Gini/entropy (the data behind paper 001's Table 2 and Figs. 4-8).

    .venv/bin/python -m benchmarks.bench_tokenizers --dataset movielens
    .venv/bin/python -m benchmarks.bench_tokenizers --dataset wordnet

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
from semid.sid.diagnostics import compute_diagnostics
from semid.tokenize import make_tokenizer

SIZES = [256, 256, 256]
MIN_ITEMS = (3, 5, 10)  # the paper's tau in {5e-7, 1e-6, 2e-6} on 5M items is 2.5, 5 and 10 items


def methods(vae_epochs: int) -> list[tuple[str, str, dict[str, Any]]]:
    rows: list[tuple[str, str, dict[str, Any]]] = [
        ("rq_kmeans", "rq_kmeans", {}),
        ("rq_vae (TIGER)", "rq_vae", {"epochs": vae_epochs}),
        ("rq_kmeans + top@32 fix", "rq_kmeans", {"hourglass": "top_k", "hourglass_k": 32}),
        ("acrq", "acrq", {}),
    ]
    rows += [(f"sarq (min_items={m})", "sarq", {"min_items": m}) for m in MIN_ITEMS]
    rows += [(f"sa2crq (min_items={m})", "sa2crq", {"min_items": m}) for m in MIN_ITEMS]
    rows += [
        ("acrq, rq_vae", "acrq", {"quantizer": "rq_vae", "epochs": vae_epochs}),
        ("sa2crq (min_items=5), rq_vae", "sa2crq", {"quantizer": "rq_vae", "epochs": vae_epochs, "min_items": 5}),
    ]
    return rows


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)  # None: no items in that part (an all-tail catalogue)


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
        **{f"length_{part}": _rounded(diag["length"][part]["mean"], 3) for part in ("head", "tail")},
        "gini": [round(layer["gini"], 3) for layer in diag["layers"]],
        "entropy": [round(layer["entropy"], 2) for layer in diag["layers"]],
        "top1_share": [round(layer["top1_share"], 4) for layer in diag["layers"]],
        "utilization": [round(layer["utilization"], 3) for layer in diag["layers"]],
    }


def markdown(result: dict[str, Any]) -> str:
    head = (
        "| method | tau | fit+encode s | #SID | collision | ips mean | p80 | p90 | p99 | p99.9 | max "
        "| len head | len tail | gini L1/L2/L3 | entropy L1/L2/L3 |\n"
    )
    head += "|" + "---|" * 15 + "\n"
    lines = []
    for r in result["rows"]:
        ips = r["items_per_sid"]
        tau = f"{r['tau']:.2e}" if r["tau"] else "-"
        lines.append(
            f"| {r['label']} | {tau} | {r['fit_encode_s']} | {r['n_sids']} | {r['collision_rate']:.2%} "
            f"| {ips['mean']:.2f} "
            f"| {ips['p80']:.0f} | {ips['p90']:.0f} | {ips['p99']:.0f} | {ips['p999']:.0f} | {ips['max']} "
            f"| {fmt(r['length_head'])} | {fmt(r['length_tail'])} | {'/'.join(map(str, r['gini']))} "
            f"| {'/'.join(map(str, r['entropy']))} |"
        )
    m = result["machine"]
    return (
        f"# Tokenizers on {result['dataset']} ({result['n_items']:,} items, {result['n_head']:,} head)\n\n"
        f"Codebooks {SIZES}; command `{result['command']}`; machine: {m['cpu']}, {m['cores_available']} cores, "
        f"GPU {m['gpu']}.\n\n" + head + "\n".join(lines) + "\n"
    )


def main() -> None:
    ap = parser(__doc__, dataset=True)
    ap.add_argument("--vae-epochs", type=int, default=20)
    args = ap.parse_args()
    data_dir = embedded_dataset(args.dataset, args.runs)
    ds = load_dataset(data_dir)
    x = np.load(data_dir / ITEM_VECTORS)
    is_head = ds.items["is_head"].to_numpy()
    name = f"tokenizers_{args.dataset}"
    path = args.out / f"{name}.json"
    result: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"rows": []}
    result.update(
        dataset=args.dataset,
        n_items=ds.n_items,
        n_head=int(is_head.sum()),
        command=f"python -m benchmarks.bench_tokenizers --dataset {args.dataset} --vae-epochs {args.vae_epochs}",
    )
    done = {r["label"] for r in result["rows"]}
    for label, method, options in methods(args.vae_epochs):
        if label in done:
            continue
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
        result["rows"].append(row)
        print(f"{label}: {seconds:.1f}s, {row['n_sids']} SIDs, len head/tail {row['length_head']}/{row['length_tail']}")
        write_result(name, result, args.out, markdown)


if __name__ == "__main__":
    main()
