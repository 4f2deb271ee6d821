"""What stands between a client and the search service: a bounded, timed body read, a strict JSON parse with
a clear reason for every refusal, and the admin endpoints' token check.

Every refusal here is an HTTP answer that the app's `observe` middleware counts in /metrics; none is a 500.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Any, TypeVar

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

ADMIN_PATHS = ("/admin", "/metrics", "/docs", "/redoc", "/openapi.json")
"""Paths that reveal or change the server's state; /search and /healthz are never behind the token."""


class BadRequestError(Exception):
    """A request that cannot be served as sent (answered as 422 with the message)."""


Model = TypeVar("Model", bound=BaseModel)


async def _answer(status: int, detail: str, scope: Any, receive: Any, send: Any, **headers: str) -> None:
    await JSONResponse({"detail": detail}, status_code=status, headers=headers or None)(scope, receive, send)


class BodyLimit:
    """ASGI middleware: reads the whole request body before the app sees it, and answers 413 past
    ``max_bytes`` and 408 when the body is not complete ``timeout_s`` after the request head (a client
    sending a byte a second must not hold a connection forever). Both close the connection: the client may
    still be sending."""

    def __init__(self, app: Any, max_bytes: int, timeout_s: float) -> None:
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"request body larger than {self.max_bytes} bytes"
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _answer(413, too_large, scope, receive, send, connection="close")
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0))
            except asyncio.TimeoutError:
                detail = f"the request body was not complete after {self.timeout_s:g} s ({size} bytes received)"
                await _answer(408, detail, scope, receive, send, connection="close")
                return
            if message["type"] != "http.request":  # the client went away: nothing to serve (counted as 400)
                await _answer(
                    400, "the client closed the connection before the body was complete", scope, receive, send
                )
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _answer(413, too_large, scope, receive, send, connection="close")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, sent = b"".join(chunks), False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return dict(await receive())

        await self.app(scope, replay, send)


def is_admin_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in ADMIN_PATHS)


class AdminGuard:
    """ASGI middleware for the admin paths: with a ``token``, they need ``Authorization: Bearer <token>``
    (401 otherwise); without one they are open when ``open_`` (a loopback bind) and off (403) when not."""

    def __init__(self, app: Any, token: str | None, open_: bool) -> None:
        self.app, self.open = app, open_
        self.token = token.encode() if token else None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and is_admin_path(scope["path"]):
            if self.token is not None:
                sent = dict(scope.get("headers") or []).get(b"authorization", b"")
                if not hmac.compare_digest(sent, b"Bearer " + self.token):
                    detail = "this endpoint needs the admin token: 'Authorization: Bearer <token>'"
                    await _answer(401, detail, scope, receive, send, **{"www-authenticate": "Bearer"})
                    return
            elif not self.open:
                detail = "admin endpoints are off on this server (not bound to loopback); start it with --admin-token"
                await _answer(403, detail, scope, receive, send)
                return
        await self.app(scope, receive, send)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value (JSON has no NaN or Infinity)")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > 100:
        raise ValueError(f"an integer of {len(text.lstrip('-'))} digits is out of range")
    return int(text)


def _check_unicode(obj: Any) -> None:
    """JSON can spell a lone UTF-16 surrogate ("\\ud800"), which is no Unicode text: refuse it by name."""
    stack: list[tuple[str, Any]] = [("the body", obj)]
    while stack:  # no recursion: the parser already accepted nesting as deep as Python's limit
        where, value = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                char = f"\\u{ord(value[exc.start]):04x}"
                raise BadRequestError(
                    f"{where} is not valid Unicode text: a lone surrogate {char} at character {exc.start}"
                ) from None
        elif isinstance(value, dict):
            for key, item in value.items():
                stack.append(("a key in " + where, key))
                stack.append((f"'{key}'" if where == "the body" else where, item))
        elif isinstance(value, list):
            stack.extend((where, item) for item in value)


def parse_json_body(body: bytes, model: type[Model]) -> Model:
    """The request body as ``model``, or a BadRequestError that says what is wrong with it: not UTF-8, not
    JSON (NaN, Infinity, numbers out of range, nesting past the parser's depth), lone surrogates, or the
    model's own validation (without echoing the input back)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequestError(
            f"the request body is not UTF-8: byte 0x{body[exc.start]:02x} at offset {exc.start}"
        ) from None
    try:
        obj = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float, parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        raise BadRequestError(
            f"the request body is not valid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})"
        ) from None
    except RecursionError:
        raise BadRequestError("the request body is nested too deeply") from None
    except ValueError as exc:  # NaN, 1e400, an integer of 5,000 digits
        raise BadRequestError(f"the request body is not valid JSON: {exc}") from None
    _check_unicode(obj)
    if not isinstance(obj, dict):
        raise BadRequestError("the request body must be a JSON object")
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        raise BadRequestError("; ".join(f"'{'.'.join(map(str, e['loc']))}': {e['msg']}" for e in errors)) from None
