"""Hostile request bodies get a 4xx that says why, never a 500 or a reset connection, and each is counted;
every 500 is an answer and is counted; bad limits stop the server from starting; admin paths are open,
token-protected or off as configured."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from semid.cli import app
from semid.retrieve.retriever import Retriever
from semid.serve import BatchConfig, ServeConfig, create_app
from semid.serve.server import ServerLimits, admin_notice, is_loopback

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


ADMIN = [("get", "/metrics"), ("post", "/admin/reload"), ("get", "/docs"), ("get", "/openapi.json")]


def test_admin_paths_are_off_on_a_public_bind_without_a_token(tiny):
    _, retriever, _ = tiny
    with TestClient(create_app(retriever, ServeConfig(batch=BatchConfig(beam=8), admin_open=False))) as client:
        for method, path in ADMIN:
            r = client.request(method, path)
            assert r.status_code == 403 and "--admin-token" in r.text, path
        assert client.post("/search", json={"query": "the apple", "k": 1}).status_code == 200
        assert client.get("/healthz").status_code == 200


def test_admin_paths_need_the_token_when_one_is_set(tiny):
    _, retriever, _ = tiny
    cfg = ServeConfig(batch=BatchConfig(beam=8), admin_token="s3cret-token", admin_open=False)
    with TestClient(create_app(retriever, cfg)) as client:
        for method, path in ADMIN:
            for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "s3cret-token"}):
                r = client.request(method, path, headers=headers)
                assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", (path, headers)
        good = {"authorization": "Bearer s3cret-token"}
        assert client.get("/openapi.json", headers=good).status_code == 200
        assert client.post("/admin/reload", headers=good).status_code == 422  # no table to reload: past the guard
        assert client.post("/search", json={"query": "the apple", "k": 1}).status_code == 200  # no token needed
        metrics = client.get("/metrics", headers=good).text
        assert 'endpoint="/metrics",status="401"} 3.0' in metrics  # refusals are counted too


def test_create_app_refuses_bad_limits(tiny):
    _, retriever, _ = tiny
    with pytest.raises(ValueError, match="admin token is empty"):
        create_app(retriever, ServeConfig(admin_token=" "))
    with pytest.raises(ValueError, match="body timeout"):
        create_app(retriever, ServeConfig(body_timeout_s=0))
    with pytest.raises(ValueError, match="header timeout"):
        ServerLimits(header_timeout_s=float("nan"))
    with pytest.raises(ValueError, match="connection limit"):
        ServerLimits(max_connections=0)


def test_start_up_says_what_the_admin_paths_are_open_to():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("example.org")
    assert admin_notice("127.0.0.1", None) == (True, admin_notice("127.0.0.1", None)[1])
    assert "every local user" in admin_notice("127.0.0.1", None)[1]
    assert admin_notice("127.0.0.1", "t")[0] is False
    warn, text = admin_notice("0.0.0.0", None)
    assert warn and "are off (403)" in text and "--admin-token" in text
    warn, text = admin_notice("0.0.0.0", "t")
    assert warn and "need the admin token" in text and "TLS" in text


def test_semid_serve_on_a_public_address_warns_and_turns_the_admin_paths_off(tiny, monkeypatch):
    from semid.serve import server
    from tests.helpers import runner

    root, _, _ = tiny
    started = []
    monkeypatch.setattr(server, "run", lambda app, host, port, limits: started.append((app, host, limits)))
    monkeypatch.delenv("SEMID_ADMIN_TOKEN", raising=False)
    args = ["serve", str(root / "art"), "--host", "0.0.0.0", "--header-timeout", "3", "--max-connections", "9"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "warning:" in res.output and "are off (403)" in res.output
    api, host, limits = started[0]
    assert host == "0.0.0.0" and limits == server.ServerLimits(3.0, 5, 9)
    assert TestClient(api).get("/metrics").status_code == 403
    res = runner.invoke(app, args, env={"SEMID_ADMIN_TOKEN": "from-the-env"})
    assert "need the admin token" in res.output
    assert (
        TestClient(started[1][0]).get("/metrics", headers={"authorization": "Bearer from-the-env"}).status_code == 200
    )
    res = runner.invoke(app, [*args, "--body-timeout", "0"])
    assert res.exit_code == 2 and "body timeout must be a positive number" in res.output
