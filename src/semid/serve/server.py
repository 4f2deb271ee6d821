"""Running the app under uvicorn with connection-level limits a slow or hostile client cannot outlast.

uvicorn (0.29 to at least 0.54) times out only idle keep-alive connections: a connection that sends nothing,
or half a request head, stays open for ever, and it has no cap on open connections (``limit_concurrency``
answers 503 per request but keeps every connection). `GuardedH11` adds both on top of uvicorn's h11
protocol: the request head must be complete ``header_timeout_s`` after the connection opens or after the
first byte of the next request (408, then close), and connections past ``max_connections`` get 503 and are
closed at once. Slow bodies are the app's business (semid.serve.guard.BodyLimit, 408). Each refusal is
counted in ``semid_connections_refused_total{reason}``, as are requests h11 cannot parse (``bad_http``).
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass
from typing import Any, ClassVar

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol


@dataclass
class ServerLimits:
    header_timeout_s: float = 10.0  # a request head (line + headers) must arrive within this
    keep_alive_s: int = 5  # an idle connection between requests is closed after this
    max_connections: int = 256  # open connections beyond this get 503 and are closed

    def __post_init__(self) -> None:
        _positive("header timeout", self.header_timeout_s)
        _positive("keep-alive", self.keep_alive_s)
        if self.max_connections < 1:
            raise ValueError(f"the connection limit must be at least 1, got {self.max_connections}")


def _positive(name: str, seconds: float) -> None:
    if not 0 < seconds < float("inf"):
        raise ValueError(f"the {name} must be a positive number of seconds, got {seconds}")


def _raw_response(status: str, text: str) -> bytes:
    body = text.encode()
    head = f"HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
    return head.encode() + f"content-length: {len(body)}\r\n\r\n".encode() + body


class GuardedH11(H11Protocol):
    """uvicorn's h11 protocol plus a request-head deadline and a connection cap (see the module doc)."""

    limits: ClassVar[ServerLimits] = ServerLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._refuse("connection_limit", "503 Service Unavailable", "too many open connections, try again later")
            return
        self._arm_head_timer()

    def _waiting_for_head(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.header_timeout_s, self._head_timeout)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def data_received(self, data: bytes) -> None:
        if self._waiting_for_head():
            self._arm_head_timer()  # the first byte of a request after an idle keep-alive starts the clock
        super().data_received(data)
        if not self._waiting_for_head():
            self._cancel_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self._waiting_for_head() and not self.transport.is_closing():
            limit = f"{self.limits.header_timeout_s:g} s"
            self._refuse("header_timeout", "408 Request Timeout", f"the request head was not complete after {limit}")

    def on_refused(self, reason: str) -> None:
        """Count a refusal (build_server binds it to the app's metrics)."""

    def _refuse(self, reason: str, status: str, text: str) -> None:
        self.on_refused(reason)
        self._cancel_head_timer()
        self.transport.write(_raw_response(status, text))
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
        self.on_refused("bad_http")
        super().send_400_response(msg)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # any other name: it may resolve to a public address
        return False


def admin_notice(host: str, token: str | None) -> tuple[bool, str]:
    """What to tell the operator about the admin paths at start-up: (is it a warning, the message)."""
    paths = "/admin/reload, /metrics, /docs"
    if token is not None:
        if is_loopback(host):
            return False, f"admin endpoints ({paths}) need the admin token as 'Authorization: Bearer <token>'"
        return True, (
            f"listening on {host}, beyond this machine: admin endpoints ({paths}) need the admin token, which "
            "plain HTTP carries in clear text; put TLS in front"
        )
    if is_loopback(host):
        return True, (
            f"admin endpoints ({paths}) are open to every local user of this machine; "
            "--admin-token (or SEMID_ADMIN_TOKEN) protects them"
        )
    return True, (
        f"listening on {host}, beyond this machine: admin endpoints ({paths}) are off (403); "
        "start with --admin-token (or SEMID_ADMIN_TOKEN) to use them with a token"
    )


def build_server(app: FastAPI, host: str, port: int, limits: ServerLimits, **uvicorn_kwargs: Any) -> uvicorn.Server:
    """A uvicorn server for ``app`` (from create_app) with ``limits``; refusals land in the app's metrics."""
    refused = app.state.metrics.refused

    class AppProtocol(GuardedH11):
        def on_refused(self, reason: str) -> None:
            refused.labels(reason).inc()

    AppProtocol.limits = limits
    config = uvicorn.Config(
        app, host=host, port=port, http=AppProtocol, timeout_keep_alive=limits.keep_alive_s, **uvicorn_kwargs
    )
    return uvicorn.Server(config)


def run(app: FastAPI, host: str, port: int, limits: ServerLimits) -> None:
    """Serve until SIGTERM/SIGINT, then drain: stop accepting, finish the queued requests (up to 30 s)."""
    build_server(app, host, port, limits, log_level="info", timeout_graceful_shutdown=30).run()
