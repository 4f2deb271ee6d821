"""Hostile request bodies get a 4xx that says why, never a 500 or a reset connection, and each is counted;
every 500 is an answer and is counted; bad limits stop the server from starting."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from semid.retrieve.retriever import Retriever
from semid.serve import BatchConfig, ServeConfig, create_app
from semid.serve.server import ServerLimits

# each made a 500 with a trace (the error answer echoed inf/NaN, the tokenizer choked on the surrogate) or,
# through uvicorn, a reset connection; the last ones were never tried but would have been 500s as well
HOSTILE = {
    b'{"query": "the apple", "k": 1e400}': "the number 1e400 is out of range",
    b'{"query": "the apple", "k": -1e400}': "the number -1e400 is out of range",
    b'{"query": "the apple", "k": NaN}': "NaN is not a JSON value",
    b'{"query": "the apple", "k": Infinity}': "Infinity is not a JSON value",
    b'{"query": "the apple", "constrained": NaN}': "NaN is not a JSON value",
    b'{"query": "the \\ud800 apple"}': "'query' is not valid Unicode text: a lone surrogate \\ud800 at character 4",
    b'{"history": ["i0", "\\udc00"]}': "'history' is not valid Unicode text: a lone surrogate \\udc00",
    b'{"\\ud800": 1}': "a key in the body is not valid Unicode text",
    b'{"query": "the \xff apple"}': "not UTF-8: byte 0xff at offset 15",
    b"[" * 5000 + b"]" * 5000: "nested too deeply",
    b'{"query": "a", "k": ' + b"9" * 5000 + b"}": "an integer of 5000 digits is out of range",
    b"[1, 2]": "must be a JSON object",
    b"": "not valid JSON: Expecting value (line 1 column 1)",
}


def requests_total(client: TestClient, endpoint: str, status: str) -> float:
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for s in family.samples:
            if s.name == "semid_requests_total" and s.labels == {"endpoint": endpoint, "status": status}:
                return s.value
    return 0.0


def test_hostile_bodies_get_a_422_with_the_reason_and_are_counted(tiny):
    _, retriever, _ = tiny
    with TestClient(create_app(retriever, ServeConfig(batch=BatchConfig(beam=8)))) as client:
        for body, reason in HOSTILE.items():
            r = client.post("/search", content=body, headers={"content-type": "application/json"})
            assert r.status_code == 422, (body[:50], r.text)
            assert reason in r.json()["detail"], (body[:50], r.text)
        assert requests_total(client, "/search", "422") == len(HOSTILE)
        assert client.post("/search", json={"query": "the apple", "k": 1}).json()["items"][0]["item_id"] == "i0"
        schema = client.get("/openapi.json").json()["paths"]["/search"]["post"]["requestBody"]
        assert "k" in schema["content"]["application/json"]["schema"]["properties"]  # /docs still shows the body


class _Broken:
    """A retriever with a bug: what a 500 looks like."""

    def __init__(self, inner: Retriever) -> None:
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def encode_inputs(self, *args, **kwargs):
        raise RuntimeError("a bug")


def test_a_500_is_an_answer_and_is_counted(tiny):
    _, retriever, _ = tiny
    with TestClient(create_app(_Broken(retriever), ServeConfig())) as client:  # type: ignore[arg-type]
        r = client.post("/search", json={"query": "the apple"})
        assert r.status_code == 500 and r.json() == {"detail": "internal server error"}
        assert requests_total(client, "/search", "500") == 1


def test_create_app_refuses_bad_limits(tiny):
    _, retriever, _ = tiny
    with pytest.raises(ValueError, match="body timeout"):
        create_app(retriever, ServeConfig(body_timeout_s=0))
    with pytest.raises(ValueError, match="header timeout"):
        ServerLimits(header_timeout_s=float("nan"))
    with pytest.raises(ValueError, match="connection limit"):
        ServerLimits(max_connections=0)
