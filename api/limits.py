"""Request limits, as a pure ASGI middleware, each answered with the stable error body:
bodies over `max_body_bytes` get 413, query strings over `MAX_QUERY_BYTES` get 414, and a
URL carrying a NUL character gets 400 (PostgreSQL text cannot hold one: a filter with a
NUL would otherwise fail in the database).

A declared `Content-Length` over the limit is refused before the body is read. A body
without one (chunked) is counted while it streams: the read that crosses the limit
raises `PayloadTooLarge`, an `HTTPException` that the app's error handlers turn into the
413 body (the route is known then); if it escapes them before a response has started,
this middleware answers 413 itself. Registered inside the audit middleware, so a refused
request still leaves its one audit record.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Query strings are filters and ids; nothing legitimate comes near this.
MAX_QUERY_BYTES = 8 * 1024


class PayloadTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit} bytes")


class BodyLimit:
    def __init__(
        self, app: ASGIApp, max_body_bytes: int, max_query_bytes: int = MAX_QUERY_BYTES
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_query_bytes = max_query_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = self.refusal(scope)
        if refused is not None:
            await refuse(send, *refused)
            return
        if declared_length(scope) is None and not has_header(scope, b"transfer-encoding"):
            await self.app(scope, receive, send)  # no body (HTTP/1.1): nothing to count
            return
        started = False

        async def counting_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, self.counted(receive), counting_send)
        except PayloadTooLarge as e:
            if started:
                raise
            await refuse(send, 413, "PayloadTooLarge", e.detail)

    def refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        """What is wrong with the request before its body is read, if anything."""
        query: bytes = scope.get("query_string", b"")
        if len(query) > self.max_query_bytes:
            return 414, "URITooLong", (
                f"the query string is longer than the limit of {self.max_query_bytes} bytes")
        if b"%00" in query or "\x00" in scope.get("path", ""):
            return 400, "InvalidInput", "the URL contains a NUL character (%00)"
        declared = declared_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            return 413, "PayloadTooLarge", PayloadTooLarge(self.max_body_bytes).detail
        return None

    def counted(self, receive: Receive) -> Receive:
        seen = 0

        async def receive_within_limit() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise PayloadTooLarge(self.max_body_bytes)
            return message

        return receive_within_limit


def has_header(scope: Scope, wanted: bytes) -> bool:
    return any(name == wanted for name, _ in scope.get("headers", ()))


def declared_length(scope: Scope) -> int | None:
    """The Content-Length header, if there is a well-formed one (the server refuses others)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def refuse(send: Send, status: int, kind: str, detail: str) -> None:
    body = json.dumps({"error": kind, "detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"connection", b"close"),  # the unread body makes the connection unusable
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
