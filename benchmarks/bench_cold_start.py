"""Cold-start slots (`cold_share`, TIGER's epsilon) measured on the kept artifacts of a finished `semid bench` run.

    .venv/bin/python -m benchmarks.bench_cold_start --bench /work/bench-full-ml --method rq_kmeans

Reads (never writes) a bench folder made with --keep-artifacts: its bench_config.json, and per seed
runs/<method>/seed<N>/retriever (saved right after training, before the cold items existed) and tok/tokenizer.
Rebuilds the bench's data from that budget (`prepare_bench_data`: same split, same cold items, same test
records), then does what `run_generative` does after training: the cold items get SIDs by cold-start
assignment and their own vectors (`with_cold_items`), and every test record is decoded constrained with the
bench's beam. The beams of each batch are expanded at every share in --shares and in both ranks, with the cold
candidates ordered "prefix" (deepest shared prefix, then beam score) and "vector" (query . item), and every
list goes through the bench's own rule (`BenchData.finish`) and metrics (`evaluate` with its head / tail / cold
masks). Share 0, rank beam must give the bench's own per-seed figures (its result.json): the result says
whether it does. Writes <out>/<name>.json and .md: mean ± 95% CI over the seeds (`mean_ci`).
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.report import parser, write_result
from semid.errors import DataError
from semid.eval.bench import BenchConfig
from semid.eval.bench.config import generative_spec
from semid.eval.bench.data import BenchData, prepare_bench_data
from semid.eval.bench.methods import DECODE_BATCH, METRICS, with_cold_items
from semid.eval.bench.results import mean_ci
from semid.eval.bench.run import recorded_budget
from semid.eval.metrics import evaluate
from semid.files import TOKENIZER_DIR

SHARES = (0.0, 0.05, 0.1, 0.2)
ORDERS = ("prefix", "vector")
SHOWN = ("recall@10", "recall@100", "mrr@10")
SPLITS = ("all", "head", "tail", "cold")


def variants(share: float) -> list[tuple[str, str | None]]:
    """(rank, cold order) pairs measured at `share` (at 0 there are no cold slots to order)."""
    return [("beam", None), ("exact", None)] if share == 0 else [(r, o) for r in ("beam", "exact") for o in ORDERS]


def label(share: float, rank: str, order: str | None) -> str:
    return f"{rank} eps={share:g}" + (f" {order}" if order else "")


def measure_seed(run_dir: Path, method: str, data: BenchData, cfg: BenchConfig, shares: list[float]) -> dict[str, Any]:
    from semid.retrieve.retriever import Retriever
    from semid.tokenize import load_tokenizer

    spec = generative_spec(method)
    assert spec is not None
    retriever = Retriever.load(run_dir / "retriever", device="cpu")
    tokenizer = load_tokenizer(run_dir / "tok" / TOKENIZER_DIR)
    retriever = with_cold_items(retriever, data, tokenizer, spec[2], cfg)
    if data.input_kind == "text":
        inputs = retriever.encode_inputs(queries=data.test["query"].tolist())
    else:
        inputs = retriever.encode_inputs(histories=[list(h) for h in data.test["history"]])
    runs: dict[str, list[list[str]]] = {}
    slots: dict[str, list[int]] = {}  # cold-slot items in each finished list's top 10 / top 100
    depth = []  # per cold test record: the deepest prefix its target's SID shares with a generated SID
    target_rows = retriever.table.lookup(data.test["target"].tolist())
    codes = retriever.table.item_codes()
    t0 = time.perf_counter()
    for start in range(0, len(inputs), DECODE_BATCH):
        batch, rows = inputs[start : start + DECODE_BATCH], slice(start, start + DECODE_BATCH)
        res = retriever.generate(batch, beam=cfg.beam, constrained=True)
        for b in np.flatnonzero(data.groups["cold"][rows]):
            t = target_rows[start + b]
            target = codes.codes[t, : codes.lengths[t]]
            shared = (res.codes[b, :, : len(target)] == target).cumprod(axis=1).sum(axis=1)
            depth.append(int(shared[np.isfinite(res.scores[b])].max(initial=0)))
        for share in shares:
            for order in ORDERS if share else [None]:
                found = retriever.expand_ranks(
                    res, retriever.table.n_items, ["beam", "exact"], batch, cold_share=share, cold_order=order
                )
                for rank, lists in found.items():
                    key = label(share, rank, order)
                    finished = data.finish([r.item_ids for r in lists], rows)
                    runs.setdefault(key, []).extend(finished)
                    for r, f in zip(lists, finished, strict=True):
                        cold = {x for x, c in zip(r.item_ids, r.in_cold_slot, strict=True) if c}
                        slots.setdefault(key, []).append(sum(x in cold for x in f[:100]))
    seconds = time.perf_counter() - t0
    out: dict[str, Any] = {
        "splits": {key: evaluate(data.qrels(), run, METRICS, data.groups) for key, run in runs.items()},
        "cold_slot_items_in_top100": {key: float(np.mean(v)) for key, v in slots.items()},
        "cold_target_shared_depth": np.bincount(depth, minlength=codes.n_layers + 1).tolist(),
        "decode_and_expand_seconds": seconds,
    }
    bench = json.loads((run_dir / "result.json").read_text(encoding="utf-8"))["splits"]
    mine = out["splits"][label(0.0, "beam", None)]
    diffs = [abs(mine[s][m] - bench[s][m]) for s in SPLITS for m in METRICS if m in bench.get(s, {})]
    out["reproduces_bench"] = {"max_abs_diff": max(diffs), "same": max(diffs) < 1e-9}
    return out


def summarise(per_seed: dict[str, dict[str, Any]]) -> dict[str, dict[str, dict[str, list[float]]]]:
    """label -> split -> metric -> [mean, 95% CI half-width] over the seeds."""
    first = next(iter(per_seed.values()))["splits"]
    return {
        key: {
            s: {m: list(mean_ci([r["splits"][key][s][m] for r in per_seed.values()])) for m in METRICS} for s in SPLITS
        }
        for key in first
    }


def _cell(value: list[float]) -> str:
    mean, ci = value
    return "–" if math.isnan(mean) else f"{mean:.4f} ± {ci:.4f}"  # "–": no test record of that split


def markdown(result: dict[str, Any]) -> str:
    m, data = result["machine"], result["data"]
    reproduced = ", ".join(
        f"{seed}: {'yes' if r['same'] else 'NO'} (largest difference {r['max_abs_diff']:.1e})"
        for seed, r in result["reproduces_bench"].items()
    )
    lines = [
        f"# Cold-start slots on {result['dataset']}: {result['method']}, {len(result['seeds'])} seeds",
        "",
        f"{data['n_items']:,} items ({data['n_cold_items']} cold), {data['n_test_queries']} test queries "
        f"(head {data['n_test']['head']}, tail {data['n_test']['tail']}, cold {data['n_test']['cold']}); "
        f"beam {result['beam']}; the bench's kept artifacts ({result['bench']}), decoded again. eps = "
        "`cold_share`: the j-th cold slot is place ceil(j / eps), so a top-n holds at most floor(eps n) cold-slot "
        "items (eps 0.05: none in the top 10, one in the top 20). Cold order prefix: deepest prefix shared with a "
        "generated SID, then beam score; vector: query . item. Mean ± 95% CI over seeds (Student t).",
        "",
        "Share 0, rank beam reproduces the bench's own per-seed figures (its result.json): " + reproduced + ".",
        f"Machine: {m['cpu']}, {m['cores_available']} cores, GPU: {m['gpu'] or 'none'}; torch {m['torch']}.",
        "",
    ]
    head = (
        "| list | "
        + " | ".join(f"{s} {n}" for s in SPLITS for n in ("R@10", "R@100", "MRR@10"))
        + " | cold in top 100 |"
    )
    lines += [head, "|" + "---|" * (2 + 3 * len(SPLITS))]
    for key, splits in result["summary"].items():
        cells = [_cell(splits[s][n]) for s in SPLITS for n in SHOWN]
        lines.append(f"| {key} | " + " | ".join(cells) + f" | {result['cold_slot_items_in_top100'][key]:.1f} |")
    depth = result["cold_target_shared_depth"]
    lines += [
        "",
        "Deepest prefix a cold target's SID shares with one of the beam's SIDs (cold test records, summed over "
        "seeds; depth 0: no shared first token, so no cold slot can find it): "
        + ", ".join(f"depth {d}: {n}" for d, n in enumerate(depth))
        + ".",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> Path:
    ap = parser(__doc__)
    ap.add_argument("--bench", type=Path, required=True, help="a finished `semid bench --keep-artifacts` folder")
    ap.add_argument("--method", default="rq_kmeans", help="a generative method of that bench")
    ap.add_argument("--shares", default=",".join(map(str, SHARES)), help="cold shares, comma-separated")
    ap.add_argument("--name", default="cold_start_movielens", help="result file name (no suffix)")
    args = ap.parse_args(argv)
    shares = [float(s) for s in args.shares.split(",")]
    budget = recorded_budget(args.bench)
    if budget is None:
        raise DataError("no bench_config.json: not a `semid bench` folder", source=str(args.bench))
    cfg = BenchConfig(**budget, show_progress=False)
    seeds = sorted(p for p in (args.bench / "runs" / args.method).glob("seed*") if (p / "retriever").is_dir())
    if not seeds:
        raise DataError(
            f"no kept artifacts of {args.method} (runs/{args.method}/seed*/retriever)", source=str(args.bench)
        )
    with tempfile.TemporaryDirectory(prefix="semid-cold-") as tmp:  # a bundled dataset is prepared here, not there
        data = prepare_bench_data(cfg, Path(tmp))
    per_seed = {p.name: measure_seed(p, args.method, data, cfg, shares) for p in seeds}
    payload = {
        "dataset": data.ds.name,
        "method": args.method,
        "bench": str(args.bench),
        "beam": cfg.beam,
        "seeds": list(per_seed),
        "data": {
            "n_items": data.ds.n_items,
            "n_cold_items": len(data.cold_items),
            "n_test_queries": len(data.test),
            "n_test": {g: int(m.sum()) for g, m in data.groups.items()},
        },
        "reproduces_bench": {s: r["reproduces_bench"] for s, r in per_seed.items()},
        "summary": summarise(per_seed),
        "cold_slot_items_in_top100": {
            key: float(np.mean([r["cold_slot_items_in_top100"][key] for r in per_seed.values()]))
            for key in next(iter(per_seed.values()))["cold_slot_items_in_top100"]
        },
        "cold_target_shared_depth": np.sum([r["cold_target_shared_depth"] for r in per_seed.values()], axis=0).tolist(),
        "per_seed": per_seed,
    }
    path = write_result(args.name, payload, args.out, markdown)
    print(path)
    return path


if __name__ == "__main__":
    main()
