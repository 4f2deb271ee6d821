"""Well-formed client traffic, each answer checked against the in-process one."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from benchmarks.bench_serve import latency_summary
from benchmarks.serve_abuse import HOST
from benchmarks.serve_abuse.answers import Expected, same


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
