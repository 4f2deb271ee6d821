"""Dynamic micro-batching: concurrent requests are gathered into one encoder and one decoder call.

A request waits in a bounded queue; one worker takes the first waiting request, then keeps taking more
until the batch is full or ``max_wait_ms`` has passed since it took the first, and runs the whole batch in
a worker thread (the event loop stays free to accept requests): the batch's query texts (or histories) are
encoded in one call, then decoded as one beam search, both by the same retriever. An input the model
refuses (e.g. an unknown item id) fails only its own request, with `InputError`. Requests that ask
for different modes (constrained or not) are decoded as separate calls within the batch; requests that ask
for different item orders (``rank``, ``cold_share``) share the beam search, and each order gets its own expansion
to items. Each caller gets its own results through its own future.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from semid.cold_share import DEFAULT_COLD_SHARE
from semid.errors import SemidError
from semid.history_limit import request_warning
from semid.retrieve.retriever import Retriever, SearchResult

T = TypeVar("T")


class QueueFullError(Exception):
    """The wait queue is at its bound (answered as 503)."""


class ShuttingDownError(Exception):
    """The server is draining; no new work is taken (answered as 503)."""


class InputError(Exception):
    """A request's query or history that the model refuses, e.g. an unknown item id (answered as 422)."""


@dataclass
class Answer:
    result: SearchResult
    warning: str | None = None  # e.g. the history is longer than the model reads (semid.history_limit)


@dataclass
class BatchConfig:
    max_batch: int = 32  # requests per decoder call
    max_wait_ms: float = 5.0  # how long the first request of a batch waits for company
    max_queue: int = 256  # waiting requests beyond this are refused with 503
    beam: int = 20


@dataclass
class _Job:
    inputs: Any  # what `Retriever.encode_inputs` gives; None until the worker encodes `query` or `history`
    k: int
    constrained: bool
    rank: str
    cold_share: float
    query: str | None = None
    history: list[str] | None = None
    warning: str | None = None
    # jobs are made inside the event loop's coroutines, whose loop the future belongs to
    future: asyncio.Future[Answer] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
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
        self, inputs: Any, k: int, constrained: bool, rank: str = "beam", cold_share: float = DEFAULT_COLD_SHARE
    ) -> SearchResult:
        """The items for one input already encoded (`Retriever.encode_inputs` of the current retriever)."""
        return (await self._enqueue(_Job(inputs, k, constrained, rank, cold_share))).result

    async def search(
        self,
        k: int,
        constrained: bool,
        rank: str = "beam",
        cold_share: float = DEFAULT_COLD_SHARE,
        *,
        query: str | None = None,
        history: list[str] | None = None,
    ) -> Answer:
        """The items for one query text or history, encoded with the rest of its batch by the retriever that
        decodes it; raises `InputError` when the model refuses the input."""
        if (query is None) == (history is None):
            raise ValueError("pass a query or a history")
        return await self._enqueue(_Job(None, k, constrained, rank, cold_share, query, history))

    async def _enqueue(self, job: _Job) -> Answer:
        if self._closing:
            raise ShuttingDownError("the server is shutting down")
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            raise QueueFullError(f"the request queue is full ({self.cfg.max_queue} waiting)") from None
        return await job.future

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
                    answers = await loop.run_in_executor(self._executor, _serve, retriever, batch, self.cfg.beam)
                except Exception as exc:  # the callers get the error; the worker keeps serving
                    answers = [exc] * len(batch)
                for job, answer in zip(batch, answers, strict=True):
                    if job.future.done():
                        continue
                    if isinstance(answer, Exception):
                        job.future.set_exception(answer)
                    else:
                        job.future.set_result(answer)
                if self._on_batch is not None:
                    self._on_batch(len(batch), time.perf_counter() - t0)
            if stop:
                return


def _serve(retriever: Retriever, batch: list[_Job], beam: int) -> list[Answer | Exception]:
    """Each job's answer or error, in the batch's order: the inputs encoded, then the ones the model took decoded."""
    out: list[Answer | Exception | None] = list(_encode(retriever, batch))
    ready = [i for i, o in enumerate(out) if o is None]
    if ready:
        results: Sequence[SearchResult | Exception]
        try:
            results = _decode(retriever, [batch[i] for i in ready], beam)
        except Exception as exc:  # the decoded requests get the error; the refused ones keep theirs
            results = [exc] * len(ready)
        for i, res in zip(ready, results, strict=True):
            out[i] = res if isinstance(res, Exception) else Answer(res, batch[i].warning)
    assert all(o is not None for o in out)
    return [o for o in out if o is not None]


def _encode(retriever: Retriever, batch: list[_Job]) -> list[InputError | None]:
    """Fills in the inputs of the jobs that came as text or history (and each history's warning): the texts in
    one `encode_inputs` call, the histories in another. Per job: the error that refused its input, or None."""

    def texts(queries: list[str]) -> list[tuple[Any, str | None]]:
        return [(x, None) for x in retriever.encode_inputs(queries=queries)]

    def histories(hists: list[list[str]]) -> list[tuple[Any, str | None]]:
        inputs = retriever.encode_inputs(histories=hists)
        return [(x, request_warning(retriever.backbone, h)) for x, h in zip(inputs, hists, strict=True)]

    errors: list[InputError | None] = [None] * len(batch)
    raw = [(i, j) for i, j in enumerate(batch) if j.inputs is None]
    _encode_group(batch, {i: j.query for i, j in raw if j.query is not None}, texts, errors)
    _encode_group(batch, {i: j.history for i, j in raw if j.history is not None}, histories, errors)
    return errors


def _encode_group(
    batch: list[_Job],
    raw: dict[int, T],
    encode: Callable[[list[T]], list[tuple[Any, str | None]]],
    errors: list[InputError | None],
) -> None:
    """Encodes `raw` (the batch's positions -> their query or history) in one call; when the model refuses it,
    each input alone, so that only the requests at fault get the error (their `errors` entries)."""
    if not raw:
        return
    try:
        encoded = encode(list(raw.values()))
    except (SemidError, ValueError) as exc:  # e.g. an unknown item id in a history
        if len(raw) == 1:
            errors[next(iter(raw))] = InputError(str(exc))
        else:
            for i, x in raw.items():
                _encode_group(batch, {i: x}, encode, errors)
        return
    for i, (inputs, warning) in zip(raw, encoded, strict=True):
        batch[i].inputs, batch[i].warning = inputs, warning


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
