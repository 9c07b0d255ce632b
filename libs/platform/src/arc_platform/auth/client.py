"""Client side: attach a bearer token to every call of a gRPC channel.

    channel = grpc.aio.insecure_channel(target, interceptors=bearer_interceptors(token))

``token`` may be a string or a function returning the current token (for tokens that are
renewed while the channel lives). A service calling another on a user's behalf forwards the
user's own token, so the callee applies the user's rights::

    channel(target, token=forwarded_token)     # arc_platform.grpc_server.channel
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from arc_platform.auth.principal import current_request

TokenSource = str | Callable[[], str]


def forwarded_token() -> str:
    """The bearer token of the request being served (raises outside one)."""
    return current_request().bearer


def _with_token(details: Any, token: TokenSource) -> Any:
    value = token() if callable(token) else token
    pairs = [(k, v) for k, v in (details.metadata or ()) if k != "authorization"]
    pairs.append(("authorization", f"Bearer {value}"))
    return details._replace(metadata=grpc.aio.Metadata(*pairs))


class _UnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    def __init__(self, token: TokenSource) -> None:
        self.token = token

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_with_token(details, self.token), request)


class _UnaryStream(grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    def __init__(self, token: TokenSource) -> None:
        self.token = token

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_with_token(details, self.token), request)


class _StreamUnary(grpc.aio.StreamUnaryClientInterceptor):  # type: ignore[misc]
    def __init__(self, token: TokenSource) -> None:
        self.token = token

    async def intercept_stream_unary(
        self, continuation: Any, details: Any, request_iterator: Any
    ) -> Any:
        return await continuation(_with_token(details, self.token), request_iterator)


class _StreamStream(grpc.aio.StreamStreamClientInterceptor):  # type: ignore[misc]
    def __init__(self, token: TokenSource) -> None:
        self.token = token

    async def intercept_stream_stream(
        self, continuation: Any, details: Any, request_iterator: Any
    ) -> Any:
        return await continuation(_with_token(details, self.token), request_iterator)


def bearer_interceptors(token: TokenSource) -> list[grpc.aio.ClientInterceptor]:
    """One interceptor per kind of call (unary or streamed, each way)."""
    return [_UnaryUnary(token), _UnaryStream(token), _StreamUnary(token), _StreamStream(token)]


def bearer_metadata(token: str) -> tuple[tuple[str, str]]:
    """For a synchronous stub: ``stub.Method(request, metadata=bearer_metadata(token))``."""
    return (("authorization", f"Bearer {token}"),)
