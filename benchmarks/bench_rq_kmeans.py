"""RQ-KMeans fit + encode on clustered synthetic vectors, against faiss's ResidualQuantizer in the same run.

    .venv/bin/python -m benchmarks.bench_rq_kmeans --n 1000000 --dim 384

Writes benchmarks/results/rq_kmeans_<n>.json with the machine description.
"""

from __future__ import annotations

import time
from typing import Any

import faiss
import numpy as np

from benchmarks.report import parser, write_result
from semid.tokenize import RQKMeans, RQKMeansConfig


def long_tailed_clusters(n: int, dim: int, n_clusters: int, seed: int = 0) -> np.ndarray:
    """Unit-norm vectors around clusters whose sizes follow a Zipf-like law (a long-tailed catalogue)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, dim), dtype=np.float32)
    weights = 1.0 / np.arange(1, n_clusters + 1) ** 0.8
    labels = rng.choice(n_clusters, size=n, p=weights / weights.sum())
    x = centres[labels]
    x += 0.6 * rng.standard_normal((n, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(((a - b) ** 2).sum(axis=1).mean())


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--clusters", type=int, default=5000)
    ap.add_argument("--sizes", default="256,256,256")
    ap.add_argument("--skip-faiss-rq", action="store_true")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    t = time.perf_counter()
    x = long_tailed_clusters(args.n, args.dim, args.clusters)
    gen_s = time.perf_counter() - t

    tok = RQKMeans(RQKMeansConfig(codebook_sizes=sizes, show_progress=False))
    t = time.perf_counter()
    tok.fit(x)
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    codes = tok.encode(x)
    enc_s = time.perf_counter() - t
    ours = {
        "fit_s": fit_s,
        "encode_s": enc_s,
        "fit_plus_encode_s": fit_s + enc_s,
        "mse": mse(tok.decode(codes), x),
        "n_sids": int(np.unique(codes.codes, axis=0).shape[0]),
    }
    print(f"semid rq_kmeans: fit {fit_s:.1f}s + encode {enc_s:.1f}s, mse {ours['mse']:.4f}", flush=True)

    peer: dict[str, Any] | None = None
    if not args.skip_faiss_rq and all(s == sizes[0] and s & (s - 1) == 0 for s in sizes):
        nbits = int(np.log2(sizes[0]))
        rq = faiss.ResidualQuantizer(args.dim, len(sizes), nbits)
        rq.max_beam_size = 1  # greedy, like residual k-means
        train_n = min(args.n, sizes[0] * 256)  # the same training sample size as our k-means per layer
        sample = x[np.random.default_rng(0).choice(args.n, train_n, replace=False)]
        t = time.perf_counter()
        rq.train(sample)
        rq_fit = time.perf_counter() - t
        t = time.perf_counter()
        rq_codes = rq.compute_codes(x)
        rq_enc = time.perf_counter() - t
        peer = {
            "name": "faiss.ResidualQuantizer (beam 1, trained on the same sample size)",
            "fit_s": rq_fit,
            "encode_s": rq_enc,
            "fit_plus_encode_s": rq_fit + rq_enc,
            "mse": mse(rq.decode(rq_codes), x),
        }
        print(f"faiss RQ: fit {rq_fit:.1f}s + encode {rq_enc:.1f}s, mse {peer['mse']:.4f}", flush=True)

    result = {
        "benchmark": "rq_kmeans fit + encode",
        "command": f"python -m benchmarks.bench_rq_kmeans --n {args.n} --dim {args.dim} --sizes {args.sizes}",
        "data": f"{args.n} x {args.dim} unit vectors around {args.clusters} Zipf-sized clusters",
        "generate_s": gen_s,
        "codebook_sizes": sizes,
        "semid_rq_kmeans": ours,
        "peer": peer,
        "ratio_peer_over_ours_time": (peer["fit_plus_encode_s"] / ours["fit_plus_encode_s"]) if peer else None,
        "target": "fit + encode <= 60 s for 1M x 384, 3 x 256, on a 2-core CPU",
    }
    print(f"-> {write_result(f'rq_kmeans_{args.n}', result, args.out)}")


if __name__ == "__main__":
    main()
