"""RQ-VAE training throughput: seconds per epoch on N x 384 vectors (CPU here; GPU when one is present).

    .venv/bin/python -m benchmarks.bench_rq_vae_epoch --n 1000000

Times the second of two epochs (the first includes k-means initialisation). Writes
benchmarks/results/rq_vae_epoch_<n>_<device>.json with the machine description.
"""

from __future__ import annotations

import json
import time

import torch

from benchmarks.bench_rq_kmeans import long_tailed_clusters
from benchmarks.report import parser, write_result
from semid.tokenize import RQVAE, RQVAEConfig


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--batch-size", type=int, default=1024)
    args = ap.parse_args()
    x = long_tailed_clusters(args.n, args.dim, 5000)
    times = []
    for epochs in (1, 2):
        tok = RQVAE(RQVAEConfig(epochs=epochs, batch_size=args.batch_size, show_progress=False))
        start = time.perf_counter()
        tok.fit(x)
        times.append(time.perf_counter() - start)
    epoch_s = times[1] - times[0]
    device = str(tok.device)
    result = {
        "benchmark": "RQ-VAE (TIGER shape: 384-512-256-128-32, 3 x 256 codes) seconds per training epoch",
        "command": f"python -m benchmarks.bench_rq_vae_epoch --n {args.n} --batch-size {args.batch_size}",
        "n": args.n,
        "device": device,
        "torch_threads": torch.get_num_threads(),
        "fit_1_epoch_s": times[0],
        "fit_2_epochs_s": times[1],
        "epoch_s": epoch_s,
        "items_per_s": args.n / epoch_s,
    }
    print(json.dumps(result, indent=1))
    write_result(f"rq_vae_epoch_{args.n}_{device.split(':')[0]}", result, args.out)


if __name__ == "__main__":
    main()
