"""Dynamic micro-batching: concurrent requests are gathered into one decoder call.

A request waits in a bounded queue; one worker takes the first waiting request, then keeps taking more
until the batch is full or ``max_wait_ms`` has passed since it took the first, and runs the whole batch
as one beam search in a worker thread (the event loop stays free to accept requests). Requests that ask
for different modes (constrained or not) are decoded as separate calls within the batch; requests that ask
for different item orders (``rank``, ``cold_share``) share the beam search, and each order gets its own expansion
to items. Each caller gets its own results through its own future.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from semid.retrieve.retriever import Retriever, SearchResult


class QueueFullError(Exception):
    """The wait queue is at its bound (answered as 503)."""


class ShuttingDownError(Exception):
    """The server is draining; no new work is taken (answered as 503)."""


@dataclass
class BatchConfig:
    max_batch: int = 32  # requests per decoder call
    max_wait_ms: float = 5.0  # how long the first request of a batch waits for company
    max_queue: int = 256  # waiting requests beyond this are refused with 503
    beam: int = 20


@dataclass
class _Job:
    inputs: list[int]
    k: int
    constrained: bool
    rank: str
    cold_share: float
    future: asyncio.Future[SearchResult]
    enqueued: float = field(default_factory=time.perf_counter)


_STOP = object()


class MicroBatcher:
    """Owns the current retriever (swappable for hot reload) and the queue in front of it."""

    def __init__(
        self,
        retriever: Retriever,
        cfg: BatchConfig,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        self.retriever = retriever
        self.cfg = cfg
        self._on_batch = on_batch  # (batch size, decode seconds) -> None, for metrics
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=cfg.max_queue)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="semid-decode")
        self._worker: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run())

    async def submit(
        self, inputs: list[int], k: int, constrained: bool, rank: str = "beam", cold_share: float = 0.0
    ) -> SearchResult:
        if self._closing:
            raise ShuttingDownError("the server is shutting down")
        fut: asyncio.Future[SearchResult] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait(_Job(inputs, k, constrained, rank, cold_share, fut))
        except asyncio.QueueFull:
            raise QueueFullError(f"the request queue is full ({self.cfg.max_queue} waiting)") from None
        return await fut

    async def close(self) -> None:
        """Stop taking work, finish everything already queued, then stop the worker."""
        self._closing = True
        if self._worker is not None:
            await self._queue.put(_STOP)  # FIFO: every job queued before this is served first
            await self._worker
            self._worker = None
        self._executor.shutdown(wait=True)

    async def _gather(self, first: _Job) -> tuple[list[_Job], bool]:
        batch, stop = [first], False
        deadline = asyncio.get_running_loop().time() + self.cfg.max_wait_ms / 1000
        while len(batch) < self.cfg.max_batch:
            try:
                job = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self._queue.get(), remaining)
                except asyncio.TimeoutError:
                    break
            if job is _STOP:
                stop = True
                break
            batch.append(job)
        return batch, stop

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await self._queue.get()
            if first is _STOP:
                return
            batch, stop = await self._gather(first)
            batch = [j for j in batch if not j.future.done()]  # callers that went away
            if batch:
                retriever = self.retriever  # one retriever per batch, even if a reload lands meanwhile
                t0 = time.perf_counter()
                try:
                    results = await loop.run_in_executor(self._executor, _decode, retriever, batch, self.cfg.beam)
                except Exception as exc:  # the callers get the error; the worker keeps serving
                    for job in batch:
                        if not job.future.done():
                            job.future.set_exception(exc)
                else:
                    for job, res in zip(batch, results, strict=True):
                        if not job.future.done():
                            job.future.set_result(res)
                if self._on_batch is not None:
                    self._on_batch(len(batch), time.perf_counter() - t0)
            if stop:
                return


def _decode(retriever: Retriever, batch: list[_Job], beam: int) -> list[SearchResult]:
    """One beam search per mode present in the batch, its beams expanded to items once per order (rank, cold
    share) asked for; results in the batch's order."""
    out: list[SearchResult | None] = [None] * len(batch)
    for constrained in (True, False):
        idx = [i for i, j in enumerate(batch) if j.constrained is constrained]
        if not idx:
            continue
        res = retriever.generate([batch[i].inputs for i in idx], beam=max(beam, 1), constrained=constrained)
        for rank, share in sorted({(batch[i].rank, batch[i].cold_share) for i in idx}):
            rows = [r for r, i in enumerate(idx) if (batch[i].rank, batch[i].cold_share) == (rank, share)]
            part = res if len(rows) == len(idx) else res.select(rows)
            k_max = max(batch[idx[r]].k for r in rows)  # a smaller k's answer is a prefix of k_max's, in every order
            found = retriever.expand(part, k_max, rank, [batch[idx[r]].inputs for r in rows], cold_share=share)
            for r, f in zip(rows, found, strict=True):
                k = batch[idx[r]].k
                out[idx[r]] = SearchResult(
                    f.item_ids[:k], f.scores[:k], f.sids[:k], f.n_sids_generated, f.n_hallucinated, f.in_cold_slot[:k]
                )
    assert all(r is not None for r in out)
    return [r for r in out if r is not None]
