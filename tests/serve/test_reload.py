"""Hot reload: a broken or inconsistent table never replaces the served one (409 with the reason, logged,
counted), and no failure ends the watcher: a valid table published afterwards is still picked up."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from semid.pipeline import assign_new_items
from semid.retrieve.retriever import Retriever
from semid.serve import BatchConfig, ServeConfig, create_app
from semid.serve import reload as reload_module
from semid.sid import SIDTable
from tests.helpers import wait_for, write_new_items
from tests.sid.helpers import BROKEN, publish

# what the issue found: each of these ended the watcher or got swapped in and broke every /search
CASES = ["table.json without codebook_sizes", "truncated arrays", "fewer ids than arrays", "table.json not JSON"]
REASONS = {  # what the 409 says about each, on the tiny table (20 items)
    "table.json without codebook_sizes": "table.json: 'codebook_sizes' must be",
    "truncated arrays": "arrays.safetensors: not readable",
    "fewer ids than arrays": "10 item ids in items.parquet but 20 entries",
    "table.json not JSON": "table.json: not readable",
    "item_sid disagrees": "item_sid and sid_items/sid_offsets disagree",
    "table.json says other counts": "table.json says n_items = 9031, the arrays hold 20",
}


def reload_errors(client: TestClient) -> float:
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "semid_table_reloads_total" and sample.labels.get("result") == "error":
                return sample.value
    return 0.0


@pytest.fixture
def served(tiny, tmp_path):
    """A server on a copy of the tiny tokenize folder, polling its SID table every 50 ms."""
    root, retriever, _ = tiny
    tok = tmp_path / "tok"
    shutil.copytree(root / "tok", tok)
    model = retriever.with_table(Retriever.load(root / "art").table)
    cfg = ServeConfig(batch=BatchConfig(beam=16, max_wait_ms=1), table_dir=tok / "sid_table", reload_interval_s=0.05)
    prefixes = [tuple(c[:-1]) for c in retriever.table.item_codes().to_lists()]  # codes without the dedup token
    roomy = next(i for i, p in enumerate(prefixes) if prefixes.count(p) < retriever.table.codebook_sizes[-1])
    with TestClient(create_app(model, cfg)) as client:  # a new item like `roomy` fits the model's vocabulary
        yield client, tok, np.load(root / "vecs.npy")[roomy : roomy + 1]


def search(client: TestClient) -> list[str]:
    r = client.post("/search", json={"query": "the apple", "k": 5})
    assert r.status_code == 200, r.text
    return [i["item_id"] for i in r.json()["items"]]


def test_watcher_survives_broken_tables_and_then_serves_a_valid_one(served, tmp_path, caplog):
    client, tok, vectors = served
    good = SIDTable.load(tok / "sid_table")
    before = search(client)
    with caplog.at_level(logging.ERROR, logger="semid.serve"):
        for n, case in enumerate(CASES, start=1):
            publish(tok / "sid_table", BROKEN[case][0])  # what a bad `semid assign` or a hand edit could leave
            wait_for(lambda n=n: reload_errors(client) == n)
            assert search(client) == before  # the old table still answers
            assert client.get("/healthz").json()["n_items"] == 20
        client.get("/healthz")
        assert reload_errors(client) == len(CASES)  # each broken version counted once, not once per poll
    assert len([r for r in caplog.records if "still serving the previous table" in r.getMessage()]) == len(CASES)
    assert "codebook_sizes" in caplog.text and "arrays.safetensors" in caplog.text
    # valid tables afterwards: the watcher is alive and takes them
    good.save(tok / "sid_table")
    write_new_items(tmp_path, vectors, 0)
    assign_new_items(tok, tmp_path / "new.jsonl", vectors=tmp_path / "new.npy")
    wait_for(lambda: client.get("/healthz").json()["n_items"] == 21)


@pytest.mark.parametrize("case", list(REASONS))
def test_forced_reload_of_a_bad_table_is_409_with_the_reason_and_keeps_the_old_one(served, case):
    client, tok, _ = served
    before = search(client)
    mutate = BROKEN[case][0]
    publish(tok / "sid_table", mutate)
    r = client.post("/admin/reload")
    assert r.status_code == 409, r.text
    assert "still serving the previous table" in r.json()["detail"]
    assert REASONS[case] in r.json()["detail"]
    assert r.json()["detail"].split(": ", 1)[1].startswith(str(tok / "sid_table"))  # names where it is
    assert search(client) == before
    assert reload_errors(client) >= 1


def test_the_watcher_survives_an_unexpected_exception(served, tmp_path, monkeypatch, caplog):
    client, tok, vectors = served
    calls = []

    def exploding(root):
        calls.append(root)
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="semid.serve"):
        monkeypatch.setattr(reload_module, "table_version", exploding)
        wait_for(lambda: len(calls) >= 3)  # it kept polling after the first error
        monkeypatch.undo()
    assert "still watching" in caplog.text
    write_new_items(tmp_path, vectors, 0)
    assign_new_items(tok, tmp_path / "new.jsonl", vectors=tmp_path / "new.npy")
    wait_for(lambda: client.get("/healthz").json()["n_items"] == 21)
