"""`cold_share` in the server: a per-request choice over a server default, each request of a mixed batch gets
its own share, items say whether they fill a cold slot, and a share outside [0, 1] is refused."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient

from semid.serve import BatchConfig, MicroBatcher, ServeConfig, create_app
from tests.retrieve.helpers import cold_text_retriever

BEAM = 6
QUERY = "boat, red"


@pytest.fixture(scope="module")
def grown():
    return cold_text_retriever()[1]


def items(client: TestClient, **body) -> list[dict]:
    r = client.post("/search", json={"query": QUERY, "k": 20, **body})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_a_request_gets_its_share_or_the_servers(grown):
    want = {s: grown.search([QUERY], k=20, beam=BEAM, cold_share=s)[0] for s in (0.0, 0.2, 0.5)}
    assert want[0.2].item_ids != want[0.0].item_ids != want[0.5].item_ids  # the shares differ here
    for default in (0.0, 0.2):
        with TestClient(create_app(grown, ServeConfig(batch=BatchConfig(beam=BEAM), cold_share=default))) as client:
            for asked in (None, 0.5, 0):
                got = items(client) if asked is None else items(client, cold_share=asked)
                expected = want[default if asked is None else asked]
                assert [i["item_id"] for i in got] == expected.item_ids
                assert [i["cold_slot"] for i in got] == expected.in_cold_slot


def test_a_mixed_batch_gives_each_request_its_own_share(grown):
    asks = [("boat, red", 9, "beam", 0.0), ("tiger", 20, "beam", 0.25), ("lamp", 7, "beam", 0.25)]
    asks += [("a hidden river", 12, "exact", 0.5), ("boat, red", 15, "beam", 1.0)]

    async def main() -> list:
        batcher = MicroBatcher(grown, BatchConfig(max_batch=len(asks), max_wait_ms=1000, beam=BEAM))
        batcher.start()
        inputs = grown.encode_inputs([q for q, *_ in asks])
        out = await asyncio.gather(
            *(batcher.submit(x, k, True, r, s) for x, (_, k, r, s) in zip(inputs, asks, strict=True))
        )
        await batcher.close()
        return out

    for (query, k, rank, share), got in zip(asks, asyncio.run(main()), strict=True):
        want = grown.search([query], k=k, beam=BEAM, rank=rank, cold_share=share)[0]
        assert (got.item_ids, got.in_cold_slot) == (want.item_ids, want.in_cold_slot), (query, share)


@pytest.mark.parametrize(
    ("share", "message"), [(1.5, "request field cold_share must be a number in [0, 1], got 1.5"), ("x", "'cold_share'")]
)
def test_a_bad_share_is_422_naming_the_field(grown, share, message):
    with TestClient(create_app(grown, ServeConfig(batch=BatchConfig(beam=BEAM)))) as client:
        r = client.post("/search", json={"query": QUERY, "cold_share": share})
    assert r.status_code == 422 and message in r.json()["detail"]
    with pytest.raises(ValueError, match=r"cold_share must be a number in \[0, 1\], got -0.1"):
        create_app(grown, ServeConfig(cold_share=-0.1))
