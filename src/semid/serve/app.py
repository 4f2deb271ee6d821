"""The HTTP search service: FastAPI over a `Retriever`, with micro-batching, limits, metrics and hot reload.

Endpoints: ``POST /search`` (``rank`` orders its items as `Retriever.expand` does, ``ServeConfig.rank`` when
absent; ``cold_share`` keeps that share of the list for cold items, ``ServeConfig.cold_share`` when absent, and
each item says whether it fills a cold slot; its answer's ``warnings`` list says e.g. that a history was longer
than the model reads),
``GET /healthz``, ``GET /metrics`` (Prometheus text), ``POST /admin/reload`` (reload the SID table now; it is
also polled every ``reload_interval_s``). The admin paths (/metrics, /admin/*, /docs, /openapi.json) take
``admin_token`` when one is set (semid.serve.guard). Every answer, 4xx and 5xx alike, is counted in
``semid_requests_total``; semid.serve.server adds the connection-level limits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from pydantic import BaseModel, ConfigDict

from semid.cold_share import DEFAULT_COLD_SHARE, check_cold
from semid.retrieve.retriever import RANKS, Retriever
from semid.serve.batcher import BatchConfig, InputError, MicroBatcher, QueueFullError, ShuttingDownError
from semid.serve.guard import AdminGuard, BadRequestError, BodyLimit, parse_json_body
from semid.serve.reload import ReloadError, TableReloader

log = logging.getLogger("semid.serve")


@dataclass
class ServeConfig:
    batch: BatchConfig = field(default_factory=BatchConfig)
    max_k: int = 1000
    max_query_chars: int = 2000
    max_history: int = 512
    max_body_bytes: int = 64 * 1024
    body_timeout_s: float = 10.0  # a request body not complete this long after its head gets 408
    admin_token: str | None = None  # when set, the admin paths (semid.serve.guard) need it as a Bearer token
    admin_open: bool = True  # without a token: admin paths open (a loopback bind) or off with 403
    table_dir: Path | None = None  # SID table to watch for hot reload (None: no reload)
    reload_interval_s: float = 2.0
    rank: str = "beam"  # how items are ordered when a request does not say (Retriever.expand)
    cold_share: float = DEFAULT_COLD_SHARE  # the share of cold slots when a request does not say (Retriever.expand)


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    query: str | None = None
    history: list[str] | None = None
    k: int = 10
    constrained: bool = True
    rank: str | None = None  # None: the server's default
    cold_share: float | None = None  # None: the server's default


_SEARCH_DOC = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": SearchRequest.model_json_schema()}}}
}


class Metrics:
    """Prometheus metrics in the app's own registry (no process-global state)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("semid_requests", "HTTP requests", ["endpoint", "status"], registry=r)
        self.latency = Histogram(
            "semid_request_latency_seconds",
            "request latency",
            ["endpoint"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.batch_size = Histogram(
            "semid_batch_size", "requests per batch", buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256), registry=r
        )
        self.decode = Histogram(
            "semid_decode_seconds",
            "time of one batch's model work: encoding its inputs, then the decoder call",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.queue_depth = Gauge("semid_queue_depth", "requests waiting for a batch", registry=r)
        self.table_items = Gauge("semid_table_items", "items in the served SID table", registry=r)
        self.reloads = Counter("semid_table_reloads", "SID table reloads", ["result"], registry=r)
        self.refused = Counter(  # by semid.serve.server: head timeouts, the connection cap, unparsable HTTP
            "semid_connections_refused", "connections closed before a request reached the app", ["reason"], registry=r
        )

    def on_batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.decode.observe(seconds)


def _check(req: SearchRequest, cfg: ServeConfig, retriever: Retriever) -> None:
    input_kind = retriever.input_kind
    if (req.query is None) == (req.history is None):
        raise BadRequestError("give exactly one of 'query' (text) or 'history' (item ids)")
    if not 1 <= req.k <= cfg.max_k:
        raise BadRequestError(f"'k' must be between 1 and {cfg.max_k}, got {req.k}")
    if req.rank is not None and req.rank not in RANKS:
        raise BadRequestError(f"'rank' must be one of {', '.join(RANKS)}")
    if req.rank is not None and req.rank not in retriever.ranks:
        raise BadRequestError(
            f"'rank' {req.rank} needs item vectors: this server's {retriever.backbone.name} backbone has none"
        )
    if req.cold_share is not None:
        try:
            check_cold(req.cold_share)
        except ValueError as err:
            raise BadRequestError(f"request field {err}") from None
    if req.query is not None:
        if input_kind != "text":
            raise BadRequestError("this retriever takes a 'history' of item ids, not a 'query'")
        if not req.query.strip():
            raise BadRequestError("'query' is empty")
        if len(req.query) > cfg.max_query_chars:
            raise BadRequestError(f"'query' is longer than {cfg.max_query_chars} characters ({len(req.query)})")
    if req.history is not None:
        if input_kind != "history":
            raise BadRequestError("this retriever takes 'query' text, not a 'history'")
        if not req.history:
            raise BadRequestError("'history' is empty")
        if len(req.history) > cfg.max_history:
            raise BadRequestError(f"'history' has more than {cfg.max_history} items ({len(req.history)})")


def create_app(retriever: Retriever, cfg: ServeConfig | None = None) -> FastAPI:
    cfg = cfg or ServeConfig()
    if not 0 < cfg.body_timeout_s < float("inf"):
        raise ValueError(f"the body timeout must be a positive number of seconds, got {cfg.body_timeout_s}")
    if cfg.admin_token is not None and not cfg.admin_token.strip():
        raise ValueError("the admin token is empty")
    if cfg.rank not in RANKS:
        raise ValueError(f"the server's rank must be one of {', '.join(RANKS)}, got {cfg.rank!r}")
    if cfg.rank not in retriever.ranks:
        raise ValueError(
            f"the server's rank {cfg.rank!r} needs item vectors: this retriever's {retriever.backbone.name} "
            "backbone has none (minilm retrievers have them); serve it with rank 'beam'"
        )
    check_cold(cfg.cold_share)
    metrics = Metrics()
    batcher = MicroBatcher(retriever, cfg.batch, on_batch=metrics.on_batch)
    reloader = TableReloader(batcher, cfg.table_dir, metrics) if cfg.table_dir is not None else None
    metrics.queue_depth.set_function(lambda: batcher.queue_depth)
    metrics.table_items.set(retriever.table.n_items)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        watch = asyncio.create_task(reloader.watch(cfg.reload_interval_s)) if reloader is not None else None
        try:
            yield
        finally:
            if watch is not None:
                watch.cancel()
            await batcher.close()  # finishes every queued request before the process exits

    app = FastAPI(title="semid", lifespan=lifespan)
    app.state.batcher, app.state.metrics, app.state.reloader = batcher, metrics, reloader
    # inside `observe` (added last, so outermost): their 401/403/408/413 answers are counted too
    app.add_middleware(BodyLimit, max_bytes=cfg.max_body_bytes, timeout_s=cfg.body_timeout_s)
    app.add_middleware(AdminGuard, token=cfg.admin_token, open_=cfg.admin_open)

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        t0 = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:  # a bug of ours: still an answer, and counted like every other one
            log.exception("error serving %s %s", request.method, request.url.path)
            response = JSONResponse({"detail": "internal server error"}, status_code=500)
        endpoint = request.url.path if request.url.path in _ENDPOINTS else "other"
        metrics.requests.labels(endpoint, str(response.status_code)).inc()
        metrics.latency.labels(endpoint).observe(time.perf_counter() - t0)
        return response

    @app.exception_handler(BadRequestError)
    async def bad_request(_: Request, exc: BadRequestError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(QueueFullError)
    async def queue_full(_: Request, exc: QueueFullError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(ShuttingDownError)
    async def shutting_down(_: Request, exc: ShuttingDownError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.post("/search", openapi_extra=_SEARCH_DOC)
    async def search(request: Request) -> dict[str, Any]:
        req = parse_json_body(await request.body(), SearchRequest)  # no FastAPI parse: it echoes NaN into a 500
        _check(req, cfg, batcher.retriever)  # cheap checks here: a bad request is a 422 before it queues
        rank = req.rank if req.rank is not None else cfg.rank
        cold_share = req.cold_share if req.cold_share is not None else cfg.cold_share
        try:  # the batch worker encodes the query or history, with the rest of its batch
            answer = await batcher.search(
                req.k, req.constrained, rank, cold_share, query=req.query, history=req.history
            )
        except InputError as exc:  # e.g. an unknown item id in the history
            raise BadRequestError(str(exc)) from None
        res, warning = answer.result, answer.warning  # warning: e.g. a history longer than the model reads
        return {
            "items": [
                {"item_id": i, "score": s, "sid": list(sid), "cold_slot": cold}
                for i, s, sid, cold in zip(res.item_ids, res.scores, res.sids, res.in_cold_slot, strict=True)
            ],
            "n_sids_generated": res.n_sids_generated,
            "n_hallucinated": res.n_hallucinated,
            "rank": rank,  # what the scores are: SID beam scores, or query . item vector
            "cold_share": cold_share,
            "warnings": [warning] if warning is not None else [],
        }

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        current = batcher.retriever
        return {
            "status": "ok",
            "input_kind": current.input_kind,
            "n_items": current.table.n_items,
            "n_sids": current.table.n_sids,
            "queue_depth": batcher.queue_depth,
        }

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/admin/reload", response_model=None)
    async def reload() -> dict[str, Any] | JSONResponse:
        if reloader is None:
            raise BadRequestError("this server was started without a SID table to reload")
        try:
            changed = await reloader.reload(force=True)
        except ReloadError as exc:  # logged and counted by reload()
            return JSONResponse({"detail": f"reload failed, still serving the previous table: {exc}"}, 409)
        return {"reloaded": changed, "n_items": batcher.retriever.table.n_items}

    return app


_ENDPOINTS = {"/search", "/healthz", "/metrics", "/admin/reload"}
