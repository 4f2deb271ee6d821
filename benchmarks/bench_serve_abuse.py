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
import json
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.bench_serve import free_port, latency_summary, metric_samples, payloads, start_server, stop_server
from benchmarks.report import parser, write_result

HOST = "127.0.0.1"
SCORE_TOL = 1e-4


# ----------------------------------------------------------------------------------------- expected answers


@dataclass
class Expected:
    """The in-process answer to every (query index, k): Retriever.search over the whole list (its default
    batching), and each query searched alone (batch of one), to tell which one a differing answer matches."""

    batched: dict[tuple[int, int], tuple[list[str], list[float]]]
    alone: dict[tuple[int, int], tuple[list[str], list[float]]]
    batched_vs_alone_differ: int  # (query, k) pairs whose two in-process answers differ
    seconds: float


def expected_answers(artifact: Path, key: str, inputs: list[Any], ks: list[int], beam: int) -> Expected:
    from semid.retrieve.retriever import Retriever

    t0 = time.perf_counter()
    ret = Retriever.load(artifact)

    def search(k: int, batch_size: int) -> list[Any]:
        if key == "history":
            return ret.search(histories=inputs, k=k, beam=beam, batch_size=batch_size)
        return ret.search(inputs, k=k, beam=beam, batch_size=batch_size)

    batched: dict[tuple[int, int], tuple[list[str], list[float]]] = {}
    alone: dict[tuple[int, int], tuple[list[str], list[float]]] = {}
    for k in ks:
        for i, r in enumerate(search(k, 64)):
            batched[i, k] = (r.item_ids, r.scores)
    # alone: one search per query at the largest k; a smaller k is its prefix (Retriever.expand adds items
    # SID by SID in score order and stops at k, which is also how the server answers a batch of mixed k)
    k_max = max(ks)
    for i, r in enumerate(search(k_max, 1)):
        for k in ks:
            alone[i, k] = (r.item_ids[:k], r.scores[:k])
    differ = sum(not same(batched[key_], alone[key_]) for key_ in batched)
    return Expected(batched, alone, differ, time.perf_counter() - t0)


def same(a: tuple[list[str], list[float]], b: tuple[list[str], list[float]]) -> bool:
    ids_a, sc_a = a
    ids_b, sc_b = b
    if ids_a != ids_b or len(sc_a) != len(sc_b):
        return False
    return bool(np.allclose(sc_a, sc_b, rtol=0, atol=SCORE_TOL))


# ----------------------------------------------------------------------------------------- well-formed traffic


@dataclass
class WellFormed:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    wrong: int = 0  # differs from the in-process answer (Retriever.search)
    wrong_but_alone: int = 0  # of those: equal to the query's answer when searched alone
    wrong_examples: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        n = sum(self.statuses.values())
        return {
            "requests": n,
            "statuses": dict(self.statuses),
            "ok": self.statuses.get("200", 0),
            "5xx": sum(v for s, v in self.statuses.items() if s.startswith("5")),
            "non_200": n - self.statuses.get("200", 0),
            "wrong_answers": self.wrong,
            "wrong_answers_equal_to_alone_search": self.wrong_but_alone,
            "wrong_examples": self.wrong_examples,
            "seconds": self.seconds,
            "qps": self.statuses.get("200", 0) / self.seconds if self.seconds else 0.0,
            **latency_summary(self.latencies),
        }


async def well_formed(
    port: int,
    key: str,
    inputs: list[Any],
    ks: list[int],
    expected: Expected,
    concurrency: int,
    n: int,
    max_s: float,
    offset: int = 0,
) -> WellFormed:
    url = f"http://{HOST}:{port}/search"
    out = WellFormed()
    counter = iter(range(n))
    deadline = time.perf_counter() + max_s

    async def client(http: httpx.AsyncClient) -> None:
        for j in counter:
            if time.perf_counter() > deadline:
                return
            i, k = (j + offset) % len(inputs), ks[(j + offset) % len(ks)]
            t0 = time.perf_counter()
            try:
                r = await http.post(url, json={key: inputs[i], "k": k})
                status = str(r.status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            dt = time.perf_counter() - t0
            out.statuses[status] += 1
            if status != "200":
                continue
            out.latencies.append(dt)
            body = r.json()
            got = ([it["item_id"] for it in body["items"]], [it["score"] for it in body["items"]])
            if not same(got, expected.batched[i, k]):
                out.wrong += 1
                out.wrong_but_alone += same(got, expected.alone[i, k])
                if len(out.wrong_examples) < 5:
                    out.wrong_examples.append(
                        {
                            "query_index": i,
                            "k": k,
                            "input_length": len(inputs[i]),
                            "server": got[0],
                            "in_process": expected.batched[i, k][0],
                            "in_process_alone": expected.alone[i, k][0],
                        }
                    )

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        out.seconds = time.perf_counter() - t0
    return out


# ----------------------------------------------------------------------------------------- misbehaving clients


@dataclass
class KindLog:
    """What one misbehaving client kind saw."""

    attempts: int = 0
    statuses: Counter[str] = field(default_factory=Counter)  # first status line seen ("none": no answer)
    outcomes: Counter[str] = field(default_factory=Counter)  # closed_by_server / not_cut_off / client_closed / ...
    cut_after_s: list[float] = field(default_factory=list)  # when the server closed, from the clock's start

    def summary(self) -> dict[str, Any]:
        t = np.asarray(self.cut_after_s) if self.cut_after_s else None
        return {
            "attempts": self.attempts,
            "statuses": dict(self.statuses),
            "outcomes": dict(self.outcomes),
            "cut_after_s": (
                {"min": float(t.min()), "median": float(np.median(t)), "max": float(t.max())} if t is not None else None
            ),
        }


@dataclass
class RawKind:
    """A raw-socket client: ``head`` at once, then ``trickle`` a byte every ``interval`` s, then silence (or a
    hang-up when ``hang_up``). ``limit`` names the server limit expected to end it."""

    head: bytes
    trickle: bytes = b""
    interval: float = 1.0
    hang_up: bool = False
    limit: str = ""
    clock_from_response: bool = False  # keep-alive: time the close from the end of the first answer


def raw_kinds() -> dict[str, RawKind]:
    search = b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    body = b'{"history": ["1", "2", "3"], "k": 10}' + b" " * 262
    return {
        "idle_connection": RawKind(b"", limit="header_timeout"),
        "unfinished_headers": RawKind(b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Ty", limit="header_timeout"),
        "slowloris_headers": RawKind(
            b"POST /search HTTP/1.1\r\nHost: x\r\nX-Slow: ", b"a" * 10_000, 1.0, limit="header_timeout"
        ),
        "slow_body": RawKind(search + f"Content-Length: {len(body)}\r\n\r\n".encode(), body, 0.5, limit="body_timeout"),
        "idle_keepalive": RawKind(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", limit="keep_alive", clock_from_response=True
        ),
        "not_http": RawKind(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", limit="bad request line"),
        "oversized_chunked_body": RawKind(  # no Content-Length to refuse early: the size is found while reading
            search.replace(b"Content-Type", b"Transfer-Encoding: chunked\r\nContent-Type")
            + b"\r\n"
            + b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in [b" " * 8192] * 12)
            + b"0\r\n\r\n",
            limit="body size",
        ),
        "abandoned_body": RawKind(search + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:40], hang_up=True),
    }


async def raw_attempt(port: int, kind: RawKind, cap: float, log: KindLog) -> None:
    log.attempts += 1
    t0 = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
    except OSError as exc:
        log.outcomes[f"connect_error:{type(exc).__name__}"] += 1
        return

    async def feed() -> None:
        try:
            if kind.head:
                writer.write(kind.head)
                await writer.drain()
            for b in kind.trickle:
                await asyncio.sleep(kind.interval)
                writer.write(bytes([b]))
                await writer.drain()
        except OSError:
            pass  # the server closed it while we were still sending

    feeder = asyncio.create_task(feed())
    try:
        if kind.hang_up:
            await feeder
            await asyncio.sleep(0.2)
            log.outcomes["client_closed"] += 1
            log.statuses["none"] += 1
            return
        data = b""
        responded = t0
        try:
            async with asyncio.timeout(cap):
                while chunk := await reader.read(65536):
                    if not data:
                        responded = time.perf_counter()
                    data += chunk
            log.outcomes["closed_by_server"] += 1
            log.cut_after_s.append(time.perf_counter() - (responded if kind.clock_from_response else t0))
        except TimeoutError:
            log.outcomes["not_cut_off"] += 1
        except OSError as exc:  # reset rather than a clean close: still cut off
            log.outcomes[f"closed_by_server:{type(exc).__name__}"] += 1
            log.cut_after_s.append(time.perf_counter() - t0)
        line = data.split(b"\r\n", 1)[0].split(b" ")
        log.statuses[line[1].decode("latin-1") if len(line) > 1 and data.startswith(b"HTTP/") else "none"] += 1
    finally:
        feeder.cancel()
        writer.close()


def bad_payloads() -> dict[str, list[bytes]]:
    ok = '"history": ["1", "2", "3"]'
    return {
        "bad_json": [
            b"{",
            b"not json",
            b'{"history": ["1", "2",]}',
            b"\xff\xfe{}",
            b"[]",
            b'"a string"',
            b"",
            b"[" * 30_000,  # deeper than the parser's recursion limit, under the body limit
            b'{"history": ["1"], "k": 10, "extra": 1}',
            b'{"history": "1"}',
            b'{"history": [1, 2]}',
            b'{"history": []}',
            b'{"history": ["no-such-item"]}',
            b'{"query": "a cat"}',
            b'{"query": "a cat", "history": ["1"]}',
            b'{"history": ["1"], "k": "10"}',
            b'{"history": ["1"], "constrained": "yes"}',
        ],
        "oversized_k": [
            f'{{{ok}, "k": {k}}}'.encode() for k in ("0", "-1", "1001", "1000000", "10" + "0" * 50, "9" * 200, "true")
        ],
        "nan_huge": [
            f'{{{ok}, "k": {v}}}'.encode()
            for v in ("NaN", "Infinity", "-Infinity", "1e400", "-1e400", "9" * 5000, "1e308", "1.5", "10.0")
        ]
        + [b'{"history": ["1"], "k": 10, "x": NaN}', b'{"history": [NaN]}'],
        "lone_surrogates": [
            b'{"history": ["\\ud800"]}',
            b'{"history": ["1\\udfff2"]}',
            b'{"\\ud83d": 1}',
            b'{"history": ["1"], "k": 10, "\\udc00": 1}',
            b'{"history": ["\xed\xa0\x80"]}',  # a surrogate as raw (CESU-8) bytes: not UTF-8
        ],
        "oversized_body": [
            b'{"history": [' + b", ".join([b'"1"'] * 20_000) + b"]}",  # ~100 KB, over the 64 KiB limit
        ],
    }


async def payload_worker(port: int, bodies: list[bytes], pause: float, stop: asyncio.Event, log: KindLog) -> None:
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=60) as http:
        i = 0
        while not stop.is_set():
            log.attempts += 1
            try:
                r = await http.post(
                    "/search", content=bodies[i % len(bodies)], headers={"content-type": "application/json"}
                )
                log.statuses[str(r.status_code)] += 1
                log.outcomes["answered"] += 1
            except httpx.HTTPError as exc:
                log.statuses["none"] += 1
                log.outcomes[type(exc).__name__] += 1
            i += 1
            await asyncio.sleep(pause)


async def raw_worker(port: int, kind: RawKind, cap: float, stop: asyncio.Event, log: KindLog, delay: float) -> None:
    await asyncio.sleep(delay)  # spread the workers' attempts over the run
    while not stop.is_set():
        await raw_attempt(port, kind, cap, log)
        await asyncio.sleep(0.05)


async def abuse_run(
    port: int, workers: int, pause: float, cap: float, traffic: Callable[[], Awaitable[WellFormed]]
) -> tuple[WellFormed, dict[str, KindLog], float]:
    """Misbehaving clients for as long as the well-formed traffic lasts; then they finish their attempt."""
    stop = asyncio.Event()
    logs: dict[str, KindLog] = {}
    tasks: list[asyncio.Task[None]] = []
    rng = random.Random(0)
    for name, kind in raw_kinds().items():
        logs[name] = KindLog()
        for _ in range(workers):
            tasks.append(asyncio.create_task(raw_worker(port, kind, cap, stop, logs[name], rng.uniform(0, 3))))
    for name, bodies in bad_payloads().items():
        logs[name] = KindLog()
        tasks.append(asyncio.create_task(payload_worker(port, bodies, pause, stop, logs[name])))
    await asyncio.sleep(1.0)  # the slow clients are connected before the measured traffic starts
    wf = await traffic()
    stop.set()
    t0 = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*tasks), cap + 30)
    return wf, logs, time.perf_counter() - t0


# ----------------------------------------------------------------------------------------- /metrics


def counters(port: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for s in metric_samples(port):
        if s.name == "semid_requests_total":
            out[f"requests {s.labels['endpoint']} {s.labels['status']}"] = s.value
        elif s.name == "semid_connections_refused_total":
            out[f"refused {s.labels['reason']}"] = s.value
    return out


def metrics_check(
    before: dict[str, float], after: dict[str, float], logs: dict[str, KindLog], wf: WellFormed
) -> list[dict[str, Any]]:
    """What the abuse run's clients saw (or caused) vs what /metrics counted meanwhile."""

    def seen(kinds: list[str], status: str) -> int:
        return sum(logs[k].statuses.get(status, 0) for k in kinds)

    payload_kinds = list(bad_payloads())
    expected = {
        "requests /search 200": wf.statuses.get("200", 0),
        "requests /search 422": seen(payload_kinds, "422"),
        "requests /search 413": seen([*payload_kinds, "oversized_chunked_body"], "413"),
        "requests /search 408": seen(["slow_body"], "408"),
        "requests /search 400": logs["abandoned_body"].attempts,  # the app answers a hang-up with 400
        "requests /healthz 200": seen(["idle_keepalive"], "200"),
        "refused header_timeout": seen(["idle_connection", "unfinished_headers", "slowloris_headers"], "408"),
        "refused bad_http": seen(["not_http"], "400"),
    }
    keys = sorted(set(expected) | {k for k in after if after[k] != before.get(k, 0.0) and "/metrics" not in k})
    rows = []
    for key in keys:
        delta = after.get(key, 0.0) - before.get(key, 0.0)
        exp = expected.get(key)
        rows.append({"counter": key, "clients": exp, "metrics_delta": delta, "match": exp is not None and exp == delta})
    return rows


# ----------------------------------------------------------------------------------------- main


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
    meta = json.loads((args.artifact / "retriever.json").read_text(encoding="utf-8"))
    key = "history" if meta["input_kind"] == "history" else "query"
    inputs = [b[key] for b in payloads(args.data, meta["input_kind"], 10, n=args.queries)]
    if not inputs:
        raise SystemExit(f"{args.data}: no test queries")
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
        "input_kind": meta["input_kind"],
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


def verdict(res: dict[str, Any]) -> dict[str, Any]:
    runs = (res["clean"], res["abuse"])
    not_cut = {k: v["outcomes"].get("not_cut_off", 0) for k, v in res["misbehaving"].items()}
    kinds_5xx = {
        k: sum(n for s, n in v["statuses"].items() if s.startswith("5")) for k, v in res["misbehaving"].items()
    }
    return {
        "well_formed_5xx": sum(r["5xx"] for r in runs),
        "well_formed_non_200": sum(r["non_200"] for r in runs),
        "well_formed_wrong_answers": sum(r["wrong_answers"] for r in runs),
        "well_formed_wrong_matching_neither": sum(
            r["wrong_answers"] - r["wrong_answers_equal_to_alone_search"] for r in runs
        ),
        "misbehaving_5xx": sum(kinds_5xx.values()),
        "misbehaving_not_cut_off": sum(not_cut.values()),
        "metrics_all_match": all(row["match"] for row in res["metrics_check"]),
    }


def markdown(res: dict[str, Any]) -> str:
    m, c, a, v = res["machine"], res["clean"], res["abuse"], res["verdict"]
    ratio = res["p99_ratio_abuse_vs_clean"]
    lines = [
        f"# semid serve abuse test ({res['input_kind']} queries, beam {res['beam']}, k {res['ks']})",
        "",
        f"Machine: {m.get('cpu')} ({m.get('cores_available')} cores), GPU: {m.get('gpu') or 'none'}; loopback. "
        f"{res['concurrency']} well-formed clients sending {res['requests_per_run']} requests per run "
        f"({res['distinct_queries']} real test queries in turn), once clean and once with the misbehaving "
        f"clients below running meanwhile ({res['raw_workers_per_kind']} per raw-socket kind, one per payload "
        f"kind with a {res['payload_pause_ms']:g} ms pause). Server: `{' '.join(res['server_options'])}`.",
        "",
        "## Well-formed requests",
        "",
        "| run | requests | 200 | 5xx | wrong answers | QPS | p50 ms | p99 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run, r in (("clean", c), ("with misbehaving clients", a)):
        lines.append(
            f"| {run} | {r['requests']} | {r['ok']} | {r['5xx']} | {r['wrong_answers']} | {r['qps']:.1f} | "
            f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} |"
        )
    lines += [
        "",
        f"p99 with misbehaving clients / clean: {f'{ratio:.2f}x' if ratio else 'n/a'}. A wrong answer is an item "
        f"list that differs from `Retriever.search` in this process (same beam and k), or scores more than "
        f"{SCORE_TOL:g} apart. In-process, searching each query alone and in batches of 64 disagree on "
        f"{res['in_process']['batched_vs_alone_differ']} of {res['in_process']['pairs']} (query, k) pairs; of the "
        f"server's wrong answers, {c['wrong_answers_equal_to_alone_search'] + a['wrong_answers_equal_to_alone_search']}"
        " equal the query's answer when searched alone.",
        "",
        "## Misbehaving clients (during the second run)",
        "",
        "| kind | client | attempts | statuses seen | outcome | cut off after s (min / median / max) | limit |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, d in res["misbehaving"].items():
        t = d["cut_after_s"]
        cut = f"{t['min']:.2f} / {t['median']:.2f} / {t['max']:.2f}" if t else ""
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(d["statuses"].items()))
        outcomes = ", ".join(f"{s}: {n}" for s, n in sorted(d["outcomes"].items()))
        lines.append(f"| {kind} | {d['client']} | {d['attempts']} | {statuses} | {outcomes} | {cut} | {d['limit']} |")
    lines += [
        "",
        "## /metrics during the second run",
        "",
        "| counter | the clients saw (or caused) | /metrics delta | match |",
        "|---|---|---|---|",
    ]
    for row in res["metrics_check"]:
        clients = "" if row["clients"] is None else row["clients"]
        lines.append(f"| {row['counter']} | {clients} | {row['metrics_delta']:g} | {'yes' if row['match'] else 'NO'} |")
    lines += [
        "",
        f"Verdict: {v}. /healthz after the run: {res['healthz_after']}; graceful shutdown: {res['graceful_shutdown']}; "
        f"tracebacks in the server log: {res['server_log_tracebacks']}; whole script {res['total_seconds']:.0f} s.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
