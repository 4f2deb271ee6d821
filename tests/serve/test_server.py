"""The real server on 127.0.0.1 (uvicorn + semid.serve.server) against clients on raw sockets: slow bodies,
slow or missing request heads and too many connections are cut off and counted; normal traffic and
keep-alive are untouched."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from prometheus_client.parser import text_string_to_metric_families

from semid.serve import BatchConfig, ServeConfig, create_app
from semid.serve.server import ServerLimits, build_server

HEAD = b"POST /search HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"


@contextmanager
def running(retriever, limits: ServerLimits, body_timeout_s: float = 10.0) -> Iterator[tuple[int, httpx.Client]]:
    """A server on an ephemeral loopback port in a thread: (port, an HTTP client for it)."""
    app = create_app(retriever, ServeConfig(batch=BatchConfig(beam=8), body_timeout_s=body_timeout_s))
    server = build_server(app, "127.0.0.1", 0, limits, log_level="warning")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    end = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < end and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield port, client
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def counted(client: httpx.Client, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return 0.0


def read_until_closed(conn: socket.socket, timeout: float) -> bytes:
    conn.settimeout(timeout)
    data = b""
    while chunk := conn.recv(4096):
        data += chunk
    return data


def read_response(conn: socket.socket) -> bytes:
    """One whole response on a kept-alive connection (head + content-length bytes)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(4096)
    head = data.split(b"\r\n\r\n", 1)[0]
    length = int(next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")).split(b":")[1])
    while len(data) < len(head) + 4 + length:
        data += conn.recv(4096)
    return data


def test_a_body_sent_one_byte_a_second_is_cut_off_with_408(tiny):
    _, retriever, _ = tiny
    body = b'{"query": "the apple", "k": 3}'
    with running(retriever, ServerLimits(header_timeout_s=30), body_timeout_s=2) as (port, client):
        conn = socket.create_connection(("127.0.0.1", port))
        conn.sendall(HEAD % len(body))
        conn.settimeout(1.0)
        t0, answer, sent = time.monotonic(), b"", 0
        while time.monotonic() - t0 < 15:
            try:
                conn.sendall(body[sent : sent + 1])
                sent += 1
                chunk = conn.recv(4096)  # waits up to 1 s: the client's pace
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            answer += chunk
            if not chunk:
                break  # closed by the server
        elapsed = time.monotonic() - t0
        conn.close()
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert b"body was not complete after 2 s" in answer
        assert sent < len(body) and 1.5 < elapsed < 6
        assert counted(client, "semid_requests_total", endpoint="/search", status="408") == 1
        assert client.post("/search", json={"query": "the apple", "k": 1}).json()["items"][0]["item_id"] == "i0"


def test_a_head_sent_slowly_or_never_is_cut_off_with_408(tiny):
    _, retriever, _ = tiny
    with running(retriever, ServerLimits(header_timeout_s=1.5)) as (port, client):
        idle = socket.create_connection(("127.0.0.1", port))  # sends nothing at all
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"POST /search HTTP/1.1\r\nhost: x\r\n")
        t0 = time.monotonic()
        try:
            for byte in b"content-type: application/json\r\n":
                slow.sendall(bytes([byte]))
                time.sleep(0.3)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answers = [read_until_closed(c, 10) for c in (idle, slow)]
        assert time.monotonic() - t0 < 12
        for answer in answers:
            assert answer.startswith(b"HTTP/1.1 408") and b"request head was not complete after 1.5 s" in answer
        assert counted(client, "semid_connections_refused_total", reason="header_timeout") == 2


def test_keep_alive_connections_outlive_the_head_timeout_between_requests(tiny):
    _, retriever, _ = tiny
    body = b'{"query": "the apple", "k": 1}'
    with running(retriever, ServerLimits(header_timeout_s=1, keep_alive_s=5)) as (port, _):
        conn = socket.create_connection(("127.0.0.1", port))
        conn.settimeout(10)
        for _ in range(2):
            conn.sendall(HEAD % len(body) + body)
            answer = read_response(conn)
            assert answer.startswith(b"HTTP/1.1 200") and b'"i0"' in answer
            time.sleep(1.5)  # idle longer than the head timeout, shorter than keep-alive


def test_connections_past_the_limit_get_503_and_are_closed(tiny):
    _, retriever, _ = tiny
    with running(retriever, ServerLimits(header_timeout_s=30, max_connections=3)) as (port, client):
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        time.sleep(0.2)
        extra = socket.create_connection(("127.0.0.1", port))
        answer = read_until_closed(extra, 10)
        assert answer.startswith(b"HTTP/1.1 503") and b"too many open connections" in answer
        for conn in held:
            conn.close()
        time.sleep(0.2)
        assert counted(client, "semid_connections_refused_total", reason="connection_limit") == 1


def test_unparsable_http_gets_400_and_is_counted(tiny):
    _, retriever, _ = tiny
    with running(retriever, ServerLimits()) as (port, client):
        conn = socket.create_connection(("127.0.0.1", port))
        conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        assert read_until_closed(conn, 10).startswith(b"HTTP/1.1 400")
        assert counted(client, "semid_connections_refused_total", reason="bad_http") == 1
