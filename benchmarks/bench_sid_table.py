"""SID table memory per item and build/load time at 1M items, against a dict-of-tuples table.

    .venv/bin/python -m benchmarks.bench_sid_table --n 1000000

Writes benchmarks/results/sid_table_<n>.json with the machine description.
"""

from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from benchmarks.report import parser, write_result
from semid.sid import SIDTable
from semid.tokenize import Codes


def variable_length_codes(n: int, sizes: list[int], seed: int = 0) -> Codes:
    rng = np.random.default_rng(seed)
    codes = np.stack([rng.zipf(1.3, size=n) % s for s in sizes], axis=1).astype(np.int32)
    lengths = rng.choice([1, 2, 3], size=n, p=[0.1, 0.3, 0.6]).astype(np.int32)
    codes[np.arange(len(sizes))[None, :] >= lengths[:, None]] = -1
    return Codes(codes, lengths)


def dict_of_tuples_bytes(codes: Codes, sample: int = 100_000) -> float:
    """Bytes per item of {item_id: code tuple} + {code tuple: [item ids]} (id strings and tuples included)."""
    part = Codes(codes.codes[:sample], codes.lengths[:sample])
    tracemalloc.start()
    ids = [f"item-{i:09d}" for i in range(part.n_items)]
    rows = part.to_lists()
    fwd = dict(zip(ids, rows, strict=True))
    inv: dict[tuple[int, ...], list[str]] = {}
    for i, r in zip(ids, rows, strict=True):
        inv.setdefault(r, []).append(i)
    used, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del fwd, inv
    n = len(ids)
    del ids, rows
    return used / n


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--n", type=int, default=1_000_000)
    args = ap.parse_args()
    sizes = [256, 256, 256]
    codes = variable_length_codes(args.n, sizes)
    ids = [f"item-{i:09d}" for i in range(args.n)]
    pop = np.random.default_rng(1).zipf(1.5, size=args.n)
    t = time.perf_counter()
    table = SIDTable.build(ids, codes, sizes, pop)
    build_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        table.save(Path(tmp) / "t")
        save_s = time.perf_counter() - t
        t = time.perf_counter()
        SIDTable.load(Path(tmp) / "t")
        load_s = time.perf_counter() - t
    id_bytes = table.item_ids.nbytes
    result = {
        "benchmark": "SID table memory and build time",
        "command": f"python -m benchmarks.bench_sid_table --n {args.n}",
        "n_items": args.n,
        "n_sids": table.n_sids,
        "bytes_per_item_total": table.nbytes() / args.n,
        "bytes_per_item_without_id_strings": (table.nbytes() - id_bytes) / args.n,
        "id_string_bytes_per_item": id_bytes / args.n,
        "projected_gib_at_10M_items": table.nbytes() / args.n * 10_000_000 / 2**30,
        "build_s": build_s,
        "save_s": save_s,
        "load_s": load_s,
        "peer_dict_of_tuples_bytes_per_item": dict_of_tuples_bytes(codes),
        "python": sys.version.split()[0],
    }
    result["ratio_dict_over_table_bytes"] = (
        result["peer_dict_of_tuples_bytes_per_item"] / result["bytes_per_item_total"]
    )
    for k, v in result.items():
        print(f"{k}: {v}")
    write_result(f"sid_table_{args.n}", result, args.out)


if __name__ == "__main__":
    main()
