"""`rank` in the server: a per-request choice over a server default, each request of a mixed batch ordered its
own way, clear refusals where the backbone has no item vectors, and rank "exact" after a hot reload."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from fastapi.testclient import TestClient

from semid.serve import BatchConfig, MicroBatcher, ServeConfig, create_app
from semid.tokenize import Codes
from tests.helpers import runner
from tests.retrieve.helpers import untrained_text_retriever

BEAM = 8


@pytest.fixture(scope="module")
def minilm():
    return untrained_text_retriever()[1]


def answer(client: TestClient, **body) -> dict:
    r = client.post("/search", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def same(body: dict, expected) -> None:
    assert [i["item_id"] for i in body["items"]] == expected.item_ids
    assert [i["score"] for i in body["items"]] == pytest.approx(expected.scores, rel=1e-5)
    assert [tuple(i["sid"]) for i in body["items"]] == expected.sids


def test_a_request_gets_its_rank_or_the_servers(minilm):
    query = "an ancient clock"
    exact = minilm.search([query], k=6, beam=BEAM, rank="exact")[0]
    beam = minilm.search([query], k=6, beam=BEAM)[0]
    assert exact.item_ids != beam.item_ids  # the two orders differ here, so the test tells them apart
    for default in ("beam", "exact"):
        with TestClient(create_app(minilm, ServeConfig(batch=BatchConfig(beam=BEAM), rank=default))) as client:
            asked_exact = answer(client, query=query, k=6, rank="exact")
            asked_beam = answer(client, query=query, k=6, rank="beam")
            unsaid = answer(client, query=query, k=6)
        same(asked_exact, exact)
        same(asked_beam, beam)
        same(unsaid, exact if default == "exact" else beam)
        assert (asked_exact["rank"], asked_beam["rank"], unsaid["rank"]) == ("exact", "beam", default)


def test_a_mixed_batch_gives_each_request_its_own_order(minilm):
    # (query, k, constrained, rank): both ranks within each decoding mode, and different k
    asks = [
        ("boat, red", 3, True, "beam"),
        ("an ancient clock", 5, True, "exact"),
        ("tiger", 2, True, "exact"),
        ("a hidden river", 4, True, "beam"),
        ("lamp", 4, False, "exact"),
        ("sweet apple", 3, False, "beam"),
    ]
    sizes: list[int] = []

    async def main() -> list:
        batcher = MicroBatcher(minilm, BatchConfig(max_batch=len(asks), max_wait_ms=1000, beam=BEAM))
        batcher._on_batch = lambda n, _: sizes.append(n)
        batcher.start()
        inputs = minilm.encode_inputs([q for q, *_ in asks])
        out = await asyncio.gather(*(batcher.submit(x, k, c, r) for x, (_, k, c, r) in zip(inputs, asks, strict=True)))
        await batcher.close()
        return out

    results = asyncio.run(main())
    assert sizes == [len(asks)]  # one batch
    for (query, k, constrained, rank), got in zip(asks, results, strict=True):
        want = minilm.search([query], k=k, beam=BEAM, constrained=constrained, rank=rank)[0]
        assert got.item_ids == want.item_ids, (query, rank)
        assert got.scores == pytest.approx(want.scores, rel=1e-5)
        assert (got.n_sids_generated, got.n_hallucinated) == (want.n_sids_generated, want.n_hallucinated)


@pytest.mark.parametrize(
    ("rank", "message"),
    [("dense", "'rank' must be one of beam, exact"), ("", "'rank' must be one of"), (5, "'rank': Input should be")],
)
def test_a_bad_rank_is_422_naming_the_field(minilm, rank, message):
    with TestClient(create_app(minilm, ServeConfig(batch=BatchConfig(beam=BEAM)))) as client:
        r = client.post("/search", json={"query": "tiger", "rank": rank})
    assert r.status_code == 422 and message in r.json()["detail"]


def test_exact_on_a_t5_retriever_is_refused_at_start_up_and_per_request(tiny):
    _, t5, _ = tiny
    with pytest.raises(ValueError, match="rank 'exact' needs item vectors: this retriever's t5 backbone has none"):
        create_app(t5, ServeConfig(rank="exact"))
    with pytest.raises(ValueError, match="rank must be one of beam, exact, got 'dense'"):
        create_app(t5, ServeConfig(rank="dense"))
    with TestClient(create_app(t5, ServeConfig(batch=BatchConfig(beam=BEAM)))) as client:
        r = client.post("/search", json={"query": "the apple", "rank": "exact"})
        assert r.status_code == 422 and "'rank' exact needs item vectors" in r.json()["detail"]
        assert answer(client, query="the apple", rank="beam")["items"][0]["item_id"] == "i0"


def test_serve_cli_refuses_rank_exact_on_a_t5_artifact(tiny, monkeypatch):
    from semid.cli import app
    from semid.serve import server

    root, _, _ = tiny
    monkeypatch.setattr(server, "run", lambda *a, **kw: pytest.fail("the server started"))
    res = runner.invoke(app, ["serve", str(root / "art"), "--rank", "exact"])
    assert res.exit_code == 2 and "needs item vectors" in res.output and "t5" in res.output


def test_exact_rank_after_a_hot_reload(minilm, tmp_path):
    table = minilm.table
    texts = [f"a {i.replace('-', ' ')}" for i in table.item_ids.to_pylist()]  # the items' own texts
    found = minilm.search(texts[:40], k=table.n_items, beam=BEAM)
    hit = next(n for n, r in enumerate(found) if table.item_ids[n].as_py() in r.item_ids)  # its SID is generated
    codes = table.item_codes()
    grown = table.extend(["new"], Codes(codes.codes[[hit]], codes.lengths[[hit]]), np.array([0]))
    table.save(tmp_path / "sid_table")
    cfg = ServeConfig(batch=BatchConfig(beam=BEAM), table_dir=tmp_path / "sid_table", reload_interval_s=3600)
    with TestClient(create_app(minilm, cfg)) as client:
        before = answer(client, query=texts[hit], k=50, rank="exact")
        grown.save(tmp_path / "sid_table")
        assert client.post("/admin/reload").json() == {"reloaded": True, "n_items": table.n_items + 1}
        after = answer(client, query=texts[hit], k=50, rank="exact")
    same(before, minilm.search([texts[hit]], k=50, beam=BEAM, rank="exact")[0])
    # the new item is ranked by its SID tokens' rows (it has no vector of its own), as the library does
    same(after, minilm.with_table(grown).search([texts[hit]], k=50, beam=BEAM, rank="exact")[0])
    assert "new" in [i["item_id"] for i in after["items"]] and "new" not in [i["item_id"] for i in before["items"]]
