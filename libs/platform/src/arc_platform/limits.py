"""How much one request may carry, in every service: request bodies (HTTP), items in a batch
(HTTP and gRPC), and gRPC messages. A request over a limit is refused whole, before anything
is written, with an answer naming the limit: HTTP 413 ``{"detail": "request body is N bytes;
the limit is M bytes", "violations": [{"field": "body", ...}], "limit": M}`` (the shape of
:mod:`arc_platform.http_errors`); a gRPC message over ``grpc_max_message_bytes`` gets
``RESOURCE_EXHAUSTED`` from gRPC itself.

The limits are settings (``ARC_MAX_REQUEST_BYTES`` and the rest, see :class:`Limits`), part of
every service's settings. Uploads (gradebook CSV, CASE packages, OneRoster archives, xAPI
statement lists) get the larger ``max_upload_bytes``: each service names its upload routes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MIB = 1 << 20
#: gRPC's own default, made explicit (and a setting).
GRPC_MAX_MESSAGE_BYTES = 4 * MIB


class Limits(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ARC_", extra="ignore")

    max_request_bytes: int = Field(
        MIB, gt=0, description="Largest HTTP request body (uploads excepted); larger: 413."
    )
    max_upload_bytes: int = Field(
        16 * MIB,
        gt=0,
        description="Largest upload (gradebook CSV, CASE package, OneRoster zip, xAPI "
        "statement list); larger: 413.",
    )
    max_batch_items: int = Field(
        1000,
        gt=0,
        description="Most rows in an evidence batch and statements in an xAPI list; more: "
        "413 (HTTP) or INVALID_ARGUMENT naming the field (gRPC).",
    )
    max_csv_rows: int = Field(
        20_000, gt=0, description="Most data lines in a gradebook CSV upload; more: 413."
    )
    grpc_max_message_bytes: int = Field(
        GRPC_MAX_MESSAGE_BYTES,
        gt=0,
        description="Largest gRPC message a server receives; larger: RESOURCE_EXHAUSTED.",
    )


class TooMany(Exception):
    """A batch with more items than allowed: names the field and the limit."""

    def __init__(self, field: str, count: int, limit: int, what: str = "items") -> None:
        self.field = field
        self.limit = limit
        self.description = f"{count} {what}; the limit is {limit}"
        super().__init__(f"{field}: {self.description}")


def check_count(field: str, count: int, limit: int, what: str = "items") -> None:
    """Refuse (:class:`TooMany`) a batch of more than ``limit`` items."""
    if count > limit:
        raise TooMany(field, count, limit, what)


class BodyTooLarge(Exception):
    """Raised to the application reading a body beyond the limit (streamed or chunked)."""


class BodyLimit:
    """ASGI middleware refusing request bodies over a limit with 413: a declared
    ``Content-Length`` is checked before the application runs; a body without one (chunked) is
    counted as the application reads it, and the application's own answer is replaced by the
    413 once the limit is passed. ``uploads`` maps path prefixes to larger limits."""

    def __init__(self, app: ASGIApp, max_bytes: int, uploads: Mapping[str, int] = {}) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.uploads = dict(uploads)

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.uploads.items():
            if path.startswith(prefix):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, f"request body is {declared} bytes", limit)
            return
        read = 0
        exceeded = False
        answered = False

        async def counted() -> Message:
            nonlocal read, exceeded
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > limit:
                    exceeded = True
                    raise BodyTooLarge(f"over {limit} bytes")
            return message

        async def guarded(message: Message) -> None:
            nonlocal answered
            if exceeded:  # the application's answer to a body it could not read: ours instead
                return
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(BodyTooLarge):  # the application stopped reading: answer it
            await self.app(scope, counted, guarded)
        if exceeded and not answered:
            await _refuse(send, f"request body is at least {read} bytes", limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length before we see it
    return None


async def _refuse(send: Send, size: str, limit: int) -> None:
    why = f"{size}; the limit is {limit} bytes"
    content = {"detail": why, "violations": [{"field": "body", "description": why}], "limit": limit}
    body = json.dumps(content).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def limit_request_bodies(app: Starlette, limits: Limits, uploads: Sequence[str] = ()) -> None:
    """Wire :class:`BodyLimit` into ``app``; paths starting with one of ``uploads`` may carry
    ``limits.max_upload_bytes``."""
    upload_limits = {prefix: limits.max_upload_bytes for prefix in uploads}
    app.add_middleware(BodyLimit, max_bytes=limits.max_request_bytes, uploads=upload_limits)
