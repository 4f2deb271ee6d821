"""Abuse test of `semid serve`: misbehaving clients mixed into normal traffic, loopback only, bounded.

    .venv/bin/python -m benchmarks.bench_serve_abuse --artifact runs/demo/retriever --data runs/demo/data

First the expected answers: the same retriever, loaded in this process, searches every test query the
traffic will send (`Retriever.search`, the server's beam, each request's k). Then the script starts the server
(benchmarks.bench_serve's helpers) and sends the same well-formed requests twice from the same number of
clients: a clean run, then a run with misbehaving clients running concurrently:

- raw sockets: a connection that sends nothing, a request head that stops half-way, a head trickled a byte
  a second (slowloris), a body trickled slowly, a keep-alive connection left idle after its answer, bytes
  that are not HTTP, and a body abandoned half-way (the client hangs up);
- HTTP clients (httpx): bodies that are not JSON or not the schema, k out of range, NaN / Infinity / 1e400 /
  5,000-digit numbers, lone surrogates, a body over the size limit.

For every well-formed request it checks the status (any 5xx is a failure) and compares the answer with the
in-process one (a "wrong answer" is a different item list, or scores further apart than 1e-4). For every
misbehaving kind it records the statuses seen, whether the server cut the connection off and after how
long (a client that is still connected after ``--client-cap`` s is "not cut off": a server bug). Finally it
checks /metrics: the 4xx answers and refused connections of the abuse run must be counted. Writes
benchmarks/results/serve_abuse_<name>.json and .md with the machine description.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx

from benchmarks.bench_serve import artifact_payloads, free_port, start_server, stop_server
from benchmarks.report import parser, write_result
from benchmarks.serve_abuse import HOST
from benchmarks.serve_abuse.answers import expected_answers
from benchmarks.serve_abuse.metrics import counters, metrics_check
from benchmarks.serve_abuse.misbehaving import abuse_run, raw_kinds
from benchmarks.serve_abuse.results import markdown, verdict
from benchmarks.serve_abuse.well_formed import WellFormed, well_formed


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--artifact", type=Path, default=Path("runs/demo/retriever"))
    ap.add_argument("--data", type=Path, default=Path("runs/demo/data"), help="dataset folder (test queries)")
    ap.add_argument("--queries", type=int, default=300, help="distinct test queries (answers computed in-process)")
    ap.add_argument("--requests", type=int, default=1200, help="well-formed requests per run (clean, abuse)")
    ap.add_argument("--max-seconds", type=float, default=60, help="time limit of each run's well-formed traffic")
    ap.add_argument("--concurrency", type=int, default=8, help="well-formed clients")
    ap.add_argument("--ks", default="10,5,20", help="k of the well-formed requests, in turn")
    ap.add_argument("--beam", type=int, default=20)
    ap.add_argument("--max-batch", type=int, default=32)
    ap.add_argument("--max-wait-ms", type=float, default=5.0)
    ap.add_argument("--header-timeout", type=float, default=10.0, help="the server's (its default)")
    ap.add_argument("--body-timeout", type=float, default=10.0, help="the server's (its default)")
    ap.add_argument("--keep-alive", type=int, default=5, help="the server's (its default)")
    ap.add_argument("--workers", type=int, default=3, help="raw-socket clients per misbehaving kind")
    ap.add_argument("--pause-ms", type=float, default=20, help="pause between a bad-payload client's requests")
    ap.add_argument(
        "--client-cap", type=float, default=30, help="a raw client still connected after this is 'not cut off'"
    )
    ap.add_argument("--name", default=None, help="result file suffix (default: the dataset folder's name)")
    args = ap.parse_args()

    t_start = time.perf_counter()
    input_kind, bodies = artifact_payloads(args.artifact, args.data, 10, n=args.queries)
    key = "history" if input_kind == "history" else "query"
    inputs = [b[key] for b in bodies]
    ks = [int(v) for v in args.ks.split(",")]
    name = args.name or (args.data.parent.name if args.data.name == "data" else args.data.name)
    args.out.mkdir(parents=True, exist_ok=True)

    expected = expected_answers(args.artifact, key, inputs, ks, args.beam)
    gc.collect()  # the in-process retriever is gone before the server starts
    print(
        f"in-process answers: {len(expected.batched)} (query, k) pairs in {expected.seconds:.1f} s; "
        f"batched vs alone differ for {expected.batched_vs_alone_differ}",
        flush=True,
    )

    options = [
        "--beam", str(args.beam), "--max-batch", str(args.max_batch), "--max-wait-ms", str(args.max_wait_ms),
        "--header-timeout", str(args.header_timeout), "--body-timeout", str(args.body_timeout),
        "--keep-alive", str(args.keep_alive),
    ]  # fmt: skip
    port = free_port()
    log = args.out / f".serve_abuse_{name}.log"
    proc = start_server(args.artifact, port, options, log)
    try:

        def traffic(offset: int) -> Callable[[], Coroutine[Any, Any, WellFormed]]:
            return lambda: well_formed(
                port, key, inputs, ks, expected, args.concurrency, args.requests, args.max_seconds, offset
            )

        asyncio.run(well_formed(port, key, inputs, ks, expected, 4, 20, 60))  # warm-up, not reported
        clean = asyncio.run(traffic(0)())
        print(f"clean: {clean.summary()['qps']:.1f} QPS, p99 {clean.summary()['p99_ms']:.1f} ms", flush=True)
        before = counters(port)
        abused, logs, tail = asyncio.run(
            abuse_run(port, args.workers, args.pause_ms / 1000, args.client_cap, traffic(0))
        )
        time.sleep(0.5)
        after = counters(port)
        health = httpx.get(f"http://{HOST}:{port}/healthz", timeout=10).status_code
    finally:
        code = stop_server(proc)
    server_log = log.read_text(encoding="utf-8", errors="replace")
    graceful = "Application shutdown complete" in server_log
    tracebacks = server_log.count("Traceback")
    log.unlink(missing_ok=True)

    c, a = clean.summary(), abused.summary()
    limits = {"header_timeout": args.header_timeout, "body_timeout": args.body_timeout, "keep_alive": args.keep_alive}
    kinds = {}
    for kind_name, kl in logs.items():
        raw = raw_kinds().get(kind_name)
        kinds[kind_name] = {
            "client": "raw socket" if raw is not None else "httpx",
            "limit": (f"{raw.limit} {limits[raw.limit]:g} s" if raw.limit in limits else raw.limit) if raw else "",
            **kl.summary(),
        }
    results: dict[str, Any] = {
        "benchmark": "serve_abuse",
        "artifact": str(args.artifact),
        "input_kind": input_kind,
        "beam": args.beam,
        "ks": ks,
        "distinct_queries": len(inputs),
        "concurrency": args.concurrency,
        "requests_per_run": args.requests,
        "server_options": options,
        "raw_workers_per_kind": args.workers,
        "payload_pause_ms": args.pause_ms,
        "client_cap_s": args.client_cap,
        "in_process": {
            "pairs": len(expected.batched),
            "seconds": expected.seconds,
            "batched_vs_alone_differ": expected.batched_vs_alone_differ,
        },
        "clean": c,
        "abuse": a,
        "p99_ratio_abuse_vs_clean": a["p99_ms"] / c["p99_ms"] if c["p99_ms"] else None,
        "p50_ratio_abuse_vs_clean": a["p50_ms"] / c["p50_ms"] if c["p50_ms"] else None,
        "misbehaving": kinds,
        "misbehaving_tail_s": tail,
        "metrics_check": metrics_check(before, after, logs, abused),
        "healthz_after": health,
        "exit_code": code,
        "graceful_shutdown": graceful,
        "server_log_tracebacks": tracebacks,
        "total_seconds": time.perf_counter() - t_start,
    }
    results["verdict"] = verdict(results)
    path = write_result(f"serve_abuse_{name}", results, args.out, markdown)
    print(path.with_suffix(".md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
