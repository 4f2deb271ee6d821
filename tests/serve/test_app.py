"""The HTTP service in-process: answers, batching under concurrency, every bad input, 503s, hot reload."""

from __future__ import annotations

import asyncio
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from fastapi.testclient import TestClient

from semid.errors import DataError
from semid.pipeline import assign_new_items
from semid.retrieve.retriever import Retriever
from semid.retrieve.t5_backbone import T5Backbone
from semid.serve import BatchConfig, MicroBatcher, ServeConfig, create_app
from semid.serve.batcher import QueueFullError, ShuttingDownError
from semid.sid.table import SIDTable
from tests.helpers import WORDS, wait_for, write_new_items


def client_for(retriever, **cfg) -> TestClient:
    return TestClient(create_app(retriever, ServeConfig(**cfg)))


def test_search_answers_known_items_like_the_library(tiny):
    _, retriever, _ = tiny
    with client_for(retriever, batch=BatchConfig(beam=8)) as client:
        for k, w in enumerate(WORDS[:5]):
            r = client.post("/search", json={"query": f"the {w}", "k": 3})
            assert r.status_code == 200, r.text
            body = r.json()
            direct = retriever.search([f"the {w}"], k=3, beam=8)[0]
            assert [i["item_id"] for i in body["items"]] == direct.item_ids
            assert body["items"][0]["item_id"] == f"i{k}"
            assert body["items"][0]["sid"] == list(direct.sids[0])
        health = client.get("/healthz").json()
        assert health["status"] == "ok" and health["n_items"] == 20
        metrics = client.get("/metrics").text
        assert 'semid_requests_total{endpoint="/search",status="200"} 5.0' in metrics
        assert "semid_batch_size_count 5.0" in metrics


def test_batching_returns_each_caller_its_own_results(tiny):
    _, retriever, _ = tiny
    queries = [f"the {w}" for w in WORDS]
    expected = {q: r.item_ids for q, r in zip(queries, retriever.search(queries, k=2, beam=8), strict=True)}
    sizes: list[int] = []

    async def main() -> list:
        cfg = BatchConfig(max_batch=8, max_wait_ms=200, beam=8)
        batcher = MicroBatcher(retriever, cfg, lambda n, _: sizes.append(n))
        batcher.start()
        inputs = retriever.encode_inputs(queries)
        out = await asyncio.gather(*(batcher.submit(x, 2, True) for x in inputs))
        await batcher.close()
        return out

    results = asyncio.run(main())
    assert [r.item_ids for r in results] == [expected[q] for q in queries]
    assert sum(sizes) == 20 and max(sizes) == 8  # gathered into full batches, not one call per request


def test_concurrent_http_requests_are_batched(tiny):
    _, retriever, _ = tiny
    queries = [f"the {w}" for w in WORDS[:12]]
    with client_for(retriever, batch=BatchConfig(max_batch=16, max_wait_ms=300, beam=8)) as client:
        with ThreadPoolExecutor(12) as pool:
            bodies = list(pool.map(lambda q: client.post("/search", json={"query": q, "k": 1}).json(), queries))
        metrics = client.get("/metrics").text
    assert [b["items"][0]["item_id"] for b in bodies] == [r.item_ids[0] for r in retriever.search(queries, k=1, beam=8)]
    count = next(line for line in metrics.splitlines() if line.startswith("semid_batch_size_count"))
    n_batches = float(count.split()[-1])
    assert n_batches < 12


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"query": "the apple", "k": 0}, 422, "'k' must be between 1 and 50"),
        ({"query": "the apple", "k": 51}, 422, "'k' must be between 1 and 50"),
        ({"query": "x" * 101}, 422, "longer than 100 characters"),
        ({"query": "   "}, 422, "'query' is empty"),
        ({}, 422, "exactly one of 'query'"),
        ({"query": "a", "history": ["i0"]}, 422, "exactly one of 'query'"),
        ({"history": ["i0"]}, 422, "takes 'query' text"),
        ({"query": "the apple", "k": "10"}, 422, "valid integer"),
        ({"query": 5}, 422, "valid string"),
        ({"query": "the apple", "beam": 4}, 422, "Extra inputs"),
    ],
)
def test_bad_input_gets_a_clear_4xx(tiny, body, status, message):
    _, retriever, _ = tiny
    with client_for(retriever, max_k=50, max_query_chars=100) as client:
        r = client.post("/search", json=body)
    assert r.status_code == status
    assert message in r.text


def test_malformed_json_oversized_body_and_history_errors(tiny):
    _, retriever, _ = tiny
    with client_for(retriever, max_body_bytes=200) as client:
        r = client.post("/search", content=b'{"query": "the apple"', headers={"content-type": "application/json"})
        assert r.status_code == 422 and "JSON" in r.text
        r = client.post("/search", json={"query": "a" * 500})
        assert r.status_code == 413 and "larger than 200 bytes" in r.text
    b = retriever.backbone
    history_model = Retriever(T5Backbone(b.model, b.table, b.vocab, b.cfg, "history"), retriever.table)
    with client_for(history_model, max_history=3) as client:
        r = client.post("/search", json={"history": ["i0", "nope"]})
        assert r.status_code == 422 and "unknown item id 'nope'" in r.text
        r = client.post("/search", json={"history": ["i0"] * 4})
        assert r.status_code == 422 and "more than 3 items" in r.text
        r = client.post("/search", json={"query": "the apple"})
        assert r.status_code == 422 and "takes a 'history'" in r.text
        assert client.post("/search", json={"history": ["i0", "i1"], "k": 2}).status_code == 200


class _Gated:
    """A retriever whose decoder waits for a gate: makes queue states deterministic in tests."""

    def __init__(self, inner: Retriever) -> None:
        self.inner, self.gate, self.entered = inner, threading.Event(), threading.Event()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def generate(self, *args, **kwargs):
        self.entered.set()
        assert self.gate.wait(30)
        return self.inner.generate(*args, **kwargs)


def test_full_queue_answers_503_and_the_waiting_requests_still_finish(tiny):
    _, retriever, _ = tiny
    gated = _Gated(retriever)
    cfg = ServeConfig(batch=BatchConfig(max_batch=1, max_wait_ms=0, max_queue=1, beam=8))
    app = create_app(gated, cfg)  # type: ignore[arg-type]
    batcher = app.state.batcher
    with TestClient(app) as client, ThreadPoolExecutor(2) as pool:
        first = pool.submit(client.post, "/search", json={"query": "the apple", "k": 1})
        wait_for(gated.entered.is_set)  # the worker holds request 1
        second = pool.submit(client.post, "/search", json={"query": "the river", "k": 1})
        wait_for(lambda: batcher.queue_depth == 1)  # request 2 waits
        r = client.post("/search", json={"query": "the tiger", "k": 1})
        assert r.status_code == 503 and "queue is full" in r.text
        gated.gate.set()
        assert first.result().json()["items"][0]["item_id"] == "i0"
        assert second.result().json()["items"][0]["item_id"] == "i1"
        assert 'status="503"} 1.0' in client.get("/metrics").text


def test_close_finishes_queued_requests_then_refuses_new_ones(tiny):
    _, retriever, _ = tiny

    async def main() -> None:
        batcher = MicroBatcher(retriever, BatchConfig(max_batch=2, max_wait_ms=50, beam=8))
        batcher.start()
        inputs = retriever.encode_inputs([f"the {w}" for w in WORDS[:6]])
        pending = [asyncio.ensure_future(batcher.submit(x, 1, True)) for x in inputs]
        await asyncio.sleep(0)  # all six are queued
        await batcher.close()
        assert [p.result().item_ids[0] for p in pending] == [f"i{k}" for k in range(6)]
        with pytest.raises(ShuttingDownError):
            await batcher.submit(inputs[0], 1, True)

    asyncio.run(main())


def test_queue_bound_at_the_batcher(tiny):
    _, retriever, _ = tiny

    async def main() -> None:
        batcher = MicroBatcher(retriever, BatchConfig(max_queue=2))  # not started: nothing drains the queue
        x = retriever.encode_inputs(["the apple"])[0]
        waiting = [asyncio.ensure_future(batcher.submit(x, 1, True)) for _ in range(2)]
        await asyncio.sleep(0)
        with pytest.raises(QueueFullError):
            await batcher.submit(x, 1, True)
        for w in waiting:
            w.cancel()

    asyncio.run(main())


def test_hot_reload_serves_cold_start_items_without_dropping_requests(tiny, tmp_path):
    root, retriever, _ = tiny
    tok = tmp_path / "tok"
    shutil.copytree(root / "tok", tok)
    vectors = np.load(root / "vecs.npy")
    prefixes = [tuple(c[:-1]) for c in retriever.table.item_codes().to_lists()]  # codes without the dedup token
    counts = {p: prefixes.count(p) for p in prefixes}
    dedup_size = retriever.table.codebook_sizes[-1]
    roomy = next(i for i, p in enumerate(prefixes) if counts[p] < dedup_size)  # a new item fits the model's vocab
    full = next(i for i, p in enumerate(prefixes) if counts[p] == dedup_size)
    served = retriever.with_table(Retriever.load(root / "art").table)
    cfg = ServeConfig(batch=BatchConfig(beam=64, max_wait_ms=1), table_dir=tok / "sid_table", reload_interval_s=0.05)
    stop, statuses = threading.Event(), []
    with TestClient(create_app(served, cfg)) as client:

        def hammer() -> None:
            while not stop.is_set():
                statuses.append(client.post("/search", json={"query": "the apple", "k": 30}).status_code)

        with ThreadPoolExecutor(2) as pool:
            loops = [pool.submit(hammer) for _ in range(2)]
            try:
                before = client.post("/search", json={"query": "the apple", "k": 30}).json()
                write_new_items(tmp_path, vectors[roomy : roomy + 1], 0, text="apple thing")
                assign_new_items(tok, tmp_path / "new.jsonl", vectors=tmp_path / "new.npy")
                wait_for(lambda: client.get("/healthz").json()["n_items"] == 21)
                after = client.post("/search", json={"query": "the apple", "k": 30}).json()
            finally:
                stop.set()
            for f in loops:
                f.result()
        assert client.post("/admin/reload").json()["n_items"] == 21
        # a new item given a dedup token the model cannot generate (--grow-dedup): refused, the old table stays
        write_new_items(tmp_path, vectors[full : full + 1], 1, text="apple thing")
        assign_new_items(tok, tmp_path / "new.jsonl", vectors=tmp_path / "new.npy", grow_dedup=True)
        r = client.post("/admin/reload")
        assert r.status_code == 409 and "differ from the model's vocabulary" in r.text and "--grow-dedup" in r.text
        assert client.get("/healthz").json()["n_items"] == 21
        metrics = client.get("/metrics").text
    assert "new0" not in [i["item_id"] for i in before["items"]]
    assert "new0" in [i["item_id"] for i in after["items"]]
    assert statuses and set(statuses) == {200}
    assert 'semid_table_reloads_total{result="ok"}' in metrics
    assert 'semid_table_reloads_total{result="error"}' in metrics


def test_with_table_refuses_a_table_the_model_cannot_generate(tiny):
    _, retriever, _ = tiny
    t = retriever.table
    sizes = [*t.codebook_sizes[:-1], t.codebook_sizes[-1] + 1]
    bigger = SIDTable.build(t.item_ids, t.item_codes(), sizes, t.popularity, t.is_head)
    with pytest.raises(DataError, match="differ from the model's vocabulary"):
        retriever.with_table(bigger)
