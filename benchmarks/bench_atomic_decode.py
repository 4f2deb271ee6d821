"""Beam search over a one-layer SID vocabulary as large as a catalogue (DSI's atomic item IDs), on CPU.

    .venv/bin/python -m benchmarks.bench_atomic_decode --items 117659 --batch 64 --beam 100
    PYTHONPATH=<checkout of another commit>/src .venv/bin/python -m benchmarks.bench_atomic_decode --name <name>

The minilm SID decoder (random weights: speed does not depend on training) over `--items` atomic IDs, one
batch of text queries, constrained; also 3 x 256 codes for the same items as the usual case. Reports the
seconds per batch and the peak resident memory of the process so far (ru_maxrss) after each shape. The
wordnet bench's dsi run (117,659 items, batch 64, beam 100; its progress bar counts more than beam search)
spent 29 s per batch and 18 GB before the first step expanded only beam 0 and the EOS-only last step stopped
building a [B x beam, catalogue] table. Writes benchmarks/results/<name>.json with the machine description.
"""

from __future__ import annotations

import resource
import time

import numpy as np
import torch

from benchmarks.report import parser, write_result
from semid.codes import Codes
from semid.retrieve.beam import TrieTensors, beam_search
from semid.retrieve.sid_decode import sid_step_fn
from semid.retrieve.sid_model import SIDModel, SIDModelConfig
from semid.retrieve.vocab import SIDVocab
from semid.sid.table import SIDTable
from semid.sid.trie import SIDTrie

DIM = 384  # MiniLM's query vectors


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def time_shape(sizes: tuple[int, ...], codes: np.ndarray, batch: int, beam: int, repeats: int) -> dict[str, float]:
    ids = [f"i{j}" for j in range(codes.shape[0])]
    table = SIDTable.build(ids, Codes.full(codes), list(sizes))
    vocab = SIDVocab(0, tuple(table.codebook_sizes))
    torch.manual_seed(0)
    model = SIDModel(SIDModelConfig(d_model=128, decoder_layers=2), vocab, DIM, "text", 0).eval()
    trie = TrieTensors.from_trie(SIDTrie.from_table(table))
    queries = torch.randn(batch, DIM)
    seconds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        beam_search(sid_step_fn(model, queries, beam), batch, vocab, trie, beam)
        seconds.append(time.perf_counter() - t0)
    return {"seconds_per_batch_median": float(np.median(seconds)), "peak_rss_gib": peak_rss_gib()}


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--items", type=int, default=117_659)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--beam", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--name", default="atomic_decode")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n = args.items
    rows = {  # the small shape first: peak RSS is the process's peak so far
        "3x256": time_shape((256, 256, 256), rng.integers(0, 256, size=(n, 3)), args.batch, args.beam, args.repeats),
        "atomic": time_shape((n,), np.arange(n)[:, None], args.batch, args.beam, args.repeats),
    }
    for shape, row in rows.items():
        print(f"{shape:8s} {row['seconds_per_batch_median']:.2f} s per batch, peak RSS {row['peak_rss_gib']:.1f} GiB")
    payload = {"command": "python -m benchmarks.bench_atomic_decode", "config": vars(args) | {"out": str(args.out)}}
    write_result(args.name, {**payload, "rows": rows, "torch_threads": torch.get_num_threads()}, args.out)


if __name__ == "__main__":
    main()
