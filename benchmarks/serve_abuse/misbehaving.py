"""Misbehaving clients: raw sockets that stall or send garbage, HTTP clients with bad payloads."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from benchmarks.serve_abuse import HOST
from benchmarks.serve_abuse.well_formed import WellFormed


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
