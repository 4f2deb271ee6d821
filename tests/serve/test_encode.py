"""The server encodes queries and histories in its batch worker: one encoder call per batch, off the event loop,
with the retriever that decodes the batch; an input the model refuses fails only its own request."""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from semid.errors import DataError
from semid.retrieve.retriever import Retriever
from semid.retrieve.t5_backbone import T5Backbone
from semid.serve import BatchConfig, ServeConfig, create_app
from tests.retrieve.helpers import untrained_text_retriever

BEAM = 8


class _Counting:
    """A retriever that records each `encode_inputs` call: how many inputs, and the thread it ran on."""

    def __init__(self, inner: Retriever) -> None:
        self.inner, self.calls = inner, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def encode_inputs(self, queries=None, histories=None):
        self.calls.append((len(queries if queries is not None else histories), threading.current_thread().name))
        return self.inner.encode_inputs(queries, histories)


def post_all(retriever: _Counting, bodies: list[dict]) -> list:
    """`bodies` posted at once to a server whose batches wait for all of them."""
    cfg = ServeConfig(batch=BatchConfig(max_batch=len(bodies), max_wait_ms=30_000, beam=BEAM))
    with TestClient(create_app(retriever, cfg)) as client, ThreadPoolExecutor(len(bodies)) as pool:  # type: ignore[arg-type]
        return list(pool.map(lambda body: client.post("/search", json=body), bodies))


def test_concurrent_queries_are_encoded_in_one_call_off_the_event_loop():
    minilm = untrained_text_retriever()[1]
    queries = ["boat, red", "an ancient clock", "tiger", "a hidden river", "lamp", "silver mirror"]
    counting = _Counting(minilm)
    answers = post_all(counting, [{"query": q, "k": 3} for q in queries])
    assert [n for n, _ in counting.calls] == [len(queries)]
    assert all(thread.startswith("semid-decode") for _, thread in counting.calls)  # not the event loop's thread
    for answer, want in zip(answers, minilm.search(queries, k=3, beam=BEAM), strict=True):
        assert answer.status_code == 200, answer.text
        assert [i["item_id"] for i in answer.json()["items"]] == want.item_ids


def test_a_bad_history_fails_alone_and_each_answer_keeps_its_own_warning(tiny):
    _, text_model, _ = tiny
    b = text_model.backbone
    cfg = dataclasses.replace(b.cfg, max_input_tokens=8)  # 5 SID tokens per item: a 2-item history is cut
    model = Retriever(T5Backbone(b.model, b.table, b.vocab, cfg, "history"), text_model.table)
    histories = [["i0"], ["i1", "i2"], ["i3", "nope"], ["i4"]]
    counting = _Counting(model)
    answers = post_all(counting, [{"history": h, "k": 2} for h in histories])
    assert [n for n, _ in counting.calls] == [4, 1, 1, 1, 1]  # the batch refused, then each history alone
    bad = answers.pop(2)
    with pytest.raises(DataError) as refused:  # what the library says: the answer gives it word for word
        model.encode_inputs(histories=[histories[2]])
    assert bad.status_code == 422 and bad.json()["detail"] == str(refused.value)
    assert "unknown item id 'nope'" in str(refused.value)
    good = [h for h in histories if "nope" not in h]
    for answer, want in zip(answers, model.search(histories=good, k=2, beam=BEAM), strict=True):
        assert answer.status_code == 200, answer.text
        assert [i["item_id"] for i in answer.json()["items"]] == want.item_ids
    assert [len(a.json()["warnings"]) for a in answers] == [0, 1, 0]
    assert "the history is 10 SID tokens long" in answers[1].json()["warnings"][0]
