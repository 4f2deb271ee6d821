"""Constrained decoding: semid's beam search vs Hugging Face `generate` on the same model and SID table.

    .venv/bin/python -m benchmarks.bench_decoder --items 1000000 --beam 128

Model: T5-small shape (d_model 512, 6+6 layers, 8 heads, ~60M parameters), random weights (speed does not
depend on training). Table: `--items` items with uniform random 3 x 256 codes. Peers, in the same run:
- HF `generate(num_beams, prefix_allowed_tokens_fn)` with a dict-of-prefixes trie (what TIGER
  reproductions do), and
- HF `generate` with semid's vectorised `SIDConstraint` logits processor.
Reports p50/p99 latency of one query and QPS of a batch, and the share of a decode step spent on the
constraint (semid's beam search with a precomputed step vs the model). Writes
benchmarks/results/decoder_<items>_<device>.json with the machine description.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from transformers import LogitsProcessorList, T5Config, T5ForConditionalGeneration

from benchmarks.report import parser, write_result
from semid.retrieve.beam import TrieTensors, beam_search
from semid.retrieve.hf import SIDConstraint
from semid.retrieve.t5_backbone import t5_step_fn
from semid.retrieve.vocab import SIDVocab
from semid.sid import SIDTable
from semid.sid.trie import SIDTrie
from semid.tokenize import Codes

TEXT_VOCAB = 30522


def timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        out.append(time.perf_counter() - start)
    return out


def stats(times: list[float], batch: int = 1) -> dict[str, float]:
    arr = np.asarray(times) * 1000
    return {
        "p50_ms": float(np.percentile(arr, 50)),
        "p99_ms": float(np.percentile(arr, 99)),
        "qps": batch / float(np.mean(times)),
        "n": len(times),
    }


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--beam", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--query-tokens", type=int, default=16)
    ap.add_argument("--skip-dict-peer", action="store_true")
    args = ap.parse_args()
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    rng = np.random.default_rng(0)

    sizes = [256, 256, 256]
    table = SIDTable.build(
        [str(i) for i in range(args.items)],
        Codes.full(rng.integers(0, 256, size=(args.items, 3)).astype(np.int32)),
        sizes,
    )
    t0 = time.perf_counter()
    trie = SIDTrie.from_table(table)
    trie_build_s = time.perf_counter() - t0
    vocab = SIDVocab(TEXT_VOCAB, tuple(sizes))
    tt = TrieTensors.from_trie(trie, dev)
    options: dict[str, Any] = dict(
        vocab_size=vocab.size,
        d_model=512,
        d_ff=2048,
        num_layers=6,
        num_decoder_layers=6,
        num_heads=8,
        d_kv=64,
        pad_token_id=0,
        eos_token_id=vocab.eos,
        decoder_start_token_id=0,
    )
    model: Any = T5ForConditionalGeneration(T5Config(**options))
    model = model.to(dev).eval()
    n_params = sum(p.numel() for p in model.parameters())
    queries = torch.randint(1000, TEXT_VOCAB, (args.batch, args.query_tokens), device=dev)
    mask = torch.ones_like(queries)
    one, one_mask = queries[:1], mask[:1]

    def ours(ids: torch.Tensor, m: torch.Tensor) -> Any:
        step = t5_step_fn(model, ids, m, args.beam, vocab)
        return beam_search(step, ids.shape[0], vocab.local(), tt, args.beam, True, dev)

    def hf(ids: torch.Tensor, m: torch.Tensor, **kw: Any) -> Any:
        with torch.no_grad():
            return model.generate(
                input_ids=ids,
                attention_mask=m,
                num_beams=args.beam,
                num_return_sequences=args.beam,
                max_new_tokens=len(sizes) + 1,
                do_sample=False,
                **kw,
            )

    processor = LogitsProcessorList([SIDConstraint(tt, vocab)])
    rows: dict[str, Any] = {}

    def hf_vectorised(ids: torch.Tensor, m: torch.Tensor) -> Any:
        return hf(ids, m, logits_processor=processor)

    candidates: list[tuple[str, Callable[[torch.Tensor, torch.Tensor], Any]]] = [
        ("semid_beam_search", ours),
        ("hf_generate_with_semid_SIDConstraint", hf_vectorised),
    ]
    for name, fn in candidates:
        fn(one, one_mask)  # warm-up
        single = [0.0] * args.repeats
        for i in range(args.repeats):
            single[i] = timed(lambda: fn(one, one_mask), 1)[0]  # noqa: B023 (called at once)
        batched = [timed(lambda: fn(queries, mask), 1)[0] for _ in range(max(2, args.repeats // 3))]  # noqa: B023
        rows[name] = {"one_query": stats(single), f"batch_{args.batch}": stats(batched, args.batch)}
        print(name, json.dumps(rows[name]), flush=True)

    if not args.skip_dict_peer:
        t0 = time.perf_counter()
        allowed: dict[tuple[int, ...], list[int]] = {}
        for toks in vocab.tokens(table.sid_code_matrix()):
            for i in range(len(toks)):
                allowed.setdefault(tuple(toks[:i]), []).append(toks[i])
        allowed = {k: sorted(set(v)) for k, v in allowed.items()}
        dict_build_s = time.perf_counter() - t0

        def prefix_fn(batch_id: int, input_ids: torch.Tensor) -> list[int]:
            return allowed.get(tuple(input_ids.tolist()[1:]), [vocab.eos])

        name = "hf_generate_prefix_allowed_tokens_fn"
        hf(one, one_mask, prefix_allowed_tokens_fn=prefix_fn)
        rows[name] = {
            "one_query": stats(timed(lambda: hf(one, one_mask, prefix_allowed_tokens_fn=prefix_fn), args.repeats)),
            f"batch_{args.batch}": stats(
                timed(lambda: hf(queries, mask, prefix_allowed_tokens_fn=prefix_fn), max(2, args.repeats // 3)),
                args.batch,
            ),
            "dict_trie_build_s": dict_build_s,
        }
        print(name, json.dumps(rows[name]), flush=True)

    # constraint cost: the same beam search with a free step (precomputed log-probs) vs with the model
    lp = torch.log_softmax(torch.randn(args.beam, vocab.n_sid_tokens, device=dev), dim=-1)
    free = stats(timed(lambda: beam_search(lambda p, r: lp, 1, vocab.local(), tt, args.beam, True, dev), args.repeats))
    constraint_share = free["p50_ms"] / rows["semid_beam_search"]["one_query"]["p50_ms"]

    ratios = {}
    if "hf_generate_prefix_allowed_tokens_fn" in rows:
        peer = rows["hf_generate_prefix_allowed_tokens_fn"]
        ratios = {
            "one_query_p50_speedup": peer["one_query"]["p50_ms"] / rows["semid_beam_search"]["one_query"]["p50_ms"],
            "one_query_p99_speedup": peer["one_query"]["p99_ms"] / rows["semid_beam_search"]["one_query"]["p99_ms"],
            "batched_qps_ratio": rows["semid_beam_search"][f"batch_{args.batch}"]["qps"]
            / peer[f"batch_{args.batch}"]["qps"],
        }
    result = {
        "benchmark": "constrained beam search, semid vs Hugging Face generate",
        "command": f"python -m benchmarks.bench_decoder --items {args.items} --beam {args.beam} --batch {args.batch}",
        "device": str(dev),
        "model_params": n_params,
        "items": args.items,
        "n_sids": table.n_sids,
        "trie_build_s": trie_build_s,
        "trie_bytes_per_item": trie.nbytes() / args.items,
        "beam": args.beam,
        "rows": rows,
        "constraint_only_p50_ms": free["p50_ms"],
        "constraint_share_of_decode": constraint_share,
        "ratios_vs_prefix_allowed_tokens_fn": ratios,
    }
    write_result(f"decoder_{args.items}_{dev.type}", result, args.out)
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=1))


if __name__ == "__main__":
    main()
