"""Load test of `semid serve`: QPS and p50/p95/p99 latency at several concurrency levels, loopback only.

    .venv/bin/python -m benchmarks.bench_serve --artifact runs/demo/retriever --data runs/demo/data

The script starts the server itself (`semid serve` in a subprocess on 127.0.0.1), waits for /healthz, and
sends real test-split queries (text or histories, whichever the artifact takes) from N concurrent clients
per level, bounded by a request count and a time limit per level. It runs twice in the same session:
with dynamic micro-batching and with batching off (max batch 1), the peer, and reports the ratio. Then
it stops the server with SIGTERM and records whether it shut down cleanly. Writes
benchmarks/results/serve_<name>.json and .md with the machine description.

The clients are Python (httpx) on the same cores as the server: past the client's own limit the figures measure
the client. On 2 cores with the demo retriever that is ~140 QPS at 64 clients, where `wrk` measured the server at
449 (benchmarks/results/serve_demo_collapse/); for a fast server load it with wrk (benchmarks/serve_wrk_lua.py).
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.report import parser, write_result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def payloads(data_dir: Path, input_kind: str, k: int, n: int) -> list[dict[str, Any]]:
    q = pd.read_parquet(data_dir / "queries.parquet")
    q = q[q["split"] == "test"].head(n)
    if input_kind == "history":
        return [{"history": [str(h) for h in hist], "k": k} for hist in q["history"]]
    return [{"query": text, "k": k} for text in q["query"]]


def artifact_payloads(artifact: Path, data_dir: Path, k: int, n: int) -> tuple[str, list[dict[str, Any]]]:
    """The retriever's input kind (from its retriever.json) and up to `n` test bodies of that kind; exits
    naming the folder when it holds no test queries."""
    input_kind = json.loads((artifact / "retriever.json").read_text(encoding="utf-8"))["input_kind"]
    bodies = payloads(data_dir, input_kind, k, n)
    if not bodies:
        raise SystemExit(f"{data_dir}: no test queries")
    return input_kind, bodies


def start_server(artifact: Path, port: int, options: list[str], log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "semid.cli", "serve", str(artifact), "--port", str(port), *options]
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"server did not answer /healthz within 180 s; see {log}")


def stop_server(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        return -9


async def run_level(url: str, bodies: list[dict[str, Any]], concurrency: int, n: int, max_s: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    counter = iter(range(n))
    deadline = time.perf_counter() + max_s

    async def client(http: httpx.AsyncClient) -> None:
        for i in counter:
            if time.perf_counter() > deadline:
                return
            t0 = time.perf_counter()
            try:
                r = await http.post(url, json=bodies[i % len(bodies)])
                status = str(r.status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            if status == "200":
                latencies.append(time.perf_counter() - t0)
            else:
                errors[status] = errors.get(status, 0) + 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    return {
        "concurrency": concurrency,
        "requests_ok": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "seconds": wall,
        "qps": len(latencies) / wall,
        **latency_summary(latencies),
    }


def latency_summary(latencies: list[float]) -> dict[str, float]:
    """p50/p95/p99 in ms of latencies in seconds (NaN when there are none)."""
    ms = np.asarray(latencies) * 1000 if latencies else np.asarray([np.nan])
    return {f"p{q}_ms": float(np.percentile(ms, q)) for q in (50, 95, 99)}


def metric_samples(port: int) -> list[Any]:
    """Every sample /metrics holds (prometheus_client Sample: name, labels, value)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def batch_sizes(port: int) -> dict[str, float]:
    values = {s.name: s.value for s in metric_samples(port)}
    count = values.get("semid_batch_size_count", 0.0)
    return {"decoder_calls": count, "mean_batch": values.get("semid_batch_size_sum", 0.0) / count if count else 0.0}


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--artifact", type=Path, default=Path("runs/demo/retriever"))
    ap.add_argument("--data", type=Path, default=Path("runs/demo/data"), help="dataset folder (test queries)")
    ap.add_argument("--levels", default="1,4,16,64")
    ap.add_argument("--requests", type=int, default=300, help="requests per level (bounded)")
    ap.add_argument("--max-seconds", type=float, default=60, help="time limit per level")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--beam", type=int, default=20)
    ap.add_argument("--max-batch", type=int, default=32)
    ap.add_argument("--max-wait-ms", type=float, default=5.0)
    ap.add_argument("--name", default=None, help="result file suffix (default: the dataset folder's name)")
    args = ap.parse_args()

    input_kind, bodies = artifact_payloads(args.artifact, args.data, args.k, n=1000)
    levels = [int(v) for v in args.levels.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    name = args.name or (args.data.parent.name if args.data.name == "data" else args.data.name)
    modes = {
        "batched": ["--max-batch", str(args.max_batch), "--max-wait-ms", str(args.max_wait_ms)],
        "unbatched": ["--max-batch", "1", "--max-wait-ms", "0"],
    }
    results: dict[str, Any] = {
        "benchmark": "serve",
        "artifact": str(args.artifact),
        "input_kind": input_kind,
        "beam": args.beam,
        "k": args.k,
        "requests_per_level": args.requests,
        "max_seconds_per_level": args.max_seconds,
        "modes": {},
    }
    for mode, options in modes.items():
        port = free_port()
        log = args.out / f".serve_{name}_{mode}.log"
        proc = start_server(args.artifact, port, ["--beam", str(args.beam), *options], log)
        url = f"http://127.0.0.1:{port}/search"
        try:
            asyncio.run(run_level(url, bodies, 4, 20, 60))  # warm-up, not reported
            rows: list[dict[str, Any]] = []
            warm_calls = batch_sizes(port)["decoder_calls"]
            for c in levels:
                row = asyncio.run(run_level(url, bodies, c, args.requests, args.max_seconds))
                before = rows[-1]["decoder_calls_total"] if rows else warm_calls
                calls = batch_sizes(port)
                row["decoder_calls_total"] = calls["decoder_calls"]
                row["decoder_calls"] = calls["decoder_calls"] - before
                rows.append(row)
                print(
                    f"{mode:9s} c={c:3d} {row['qps']:7.1f} QPS p50 {row['p50_ms']:7.1f} ms p99 {row['p99_ms']:7.1f} ms "
                    f"errors {row['errors']}",
                    flush=True,
                )
        finally:
            code = stop_server(proc)
        # uvicorn re-raises SIGTERM after a graceful shutdown, so the exit code is -15 either way; the log
        # says whether the lifespan shutdown (draining the batcher) completed.
        graceful = "Application shutdown complete" in log.read_text(encoding="utf-8", errors="replace")
        results["modes"][mode] = {"options": options, "levels": rows, "exit_code": code, "graceful_shutdown": graceful}
        log.unlink(missing_ok=True)
    for b, u in zip(results["modes"]["batched"]["levels"], results["modes"]["unbatched"]["levels"], strict=True):
        b["qps_ratio_vs_unbatched"] = b["qps"] / u["qps"] if u["qps"] else None
    path = write_result(f"serve_{name}", results, args.out, markdown)
    print(path.with_suffix(".md").read_text(encoding="utf-8"))


def markdown(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = [
        f"# semid serve load test ({res['input_kind']} queries, beam {res['beam']}, k {res['k']})",
        "",
        f"Machine: {m.get('cpu')} ({m.get('cores_available')} cores), GPU: {m.get('gpu') or 'none'}; loopback, "
        f"{res['requests_per_level']} requests per level (or {res['max_seconds_per_level']:.0f} s).",
        "",
        "| mode | concurrency | QPS | p50 ms | p95 ms | p99 ms | errors | mean batch | QPS vs unbatched |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for mode, data in res["modes"].items():
        for r in data["levels"]:
            mean_batch = r["requests_ok"] / r["decoder_calls"] if r["decoder_calls"] else float("nan")
            ratio = r.get("qps_ratio_vs_unbatched")
            lines.append(
                f"| {mode} | {r['concurrency']} | {r['qps']:.1f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | "
                f"{r['p99_ms']:.1f} | {r['errors']} | {mean_batch:.1f} | {f'{ratio:.2f}x' if ratio else ''} |"
            )
    graceful = {mode: d["graceful_shutdown"] for mode, d in res["modes"].items()}
    lines += ["", f"Graceful shutdown on SIGTERM (lifespan drained and completed): {graceful}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
