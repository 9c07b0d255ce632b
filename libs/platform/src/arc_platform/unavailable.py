"""When the store is away, say so: a request that failed because the database could not be
reached (PostgreSQL down or restarting, a broken pooled connection) or could not be written
(SQLite's disk full, an I/O error, a lock held past the busy timeout) wrote nothing, and the
caller should try again shortly. HTTP answers ``503`` with ``Retry-After``; gRPC answers
``UNAVAILABLE`` with a ``google.rpc.RetryInfo`` detail. Every other failure stays what it was (a
bug is a 500 / INTERNAL, not something to retry).

One place decides what counts as "the store is unavailable" (:func:`is_store_unavailable`); the
services install :func:`install_http_handlers` on their FastAPI apps and the service runner puts
:class:`StoreUnavailableInterceptor` on every gRPC server.
"""

from __future__ import annotations

import errno
import inspect
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeAlias

import grpc
import psycopg
import sqlalchemy.exc
from eventsourcing import persistence
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

log = logging.getLogger(__name__)

#: How long a caller is asked to wait before trying again (seconds).
RETRY_AFTER_SECONDS = 1
MESSAGE = "the store is unavailable; nothing was written, try again shortly"

#: SQLite primary result codes meaning "could not read or write now", not "bad statement".
SQLITE_UNAVAILABLE = (
    "SQLITE_FULL",
    "SQLITE_IOERR",
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_CANTOPEN",
)
#: File-system errors of a full or failing disk (a refused connection is a ConnectionError).
OS_UNAVAILABLE = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EIO, errno.EROFS}

#: Exception classes worth asking :func:`is_store_unavailable` about (handlers are per class).
STORE_ERRORS: tuple[type[Exception], ...] = (
    persistence.PersistenceError,
    psycopg.Error,
    sqlite3.Error,
    sqlalchemy.exc.SQLAlchemyError,
    OSError,
)


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it was raised from (``__cause__``, else ``__context__``), innermost last."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if isinstance(current, sqlalchemy.exc.DBAPIError) and current.orig is not None:
            current = current.orig
        else:
            current = current.__cause__ or current.__context__


def _sqlite_unavailable(error: sqlite3.Error) -> bool:
    name = getattr(error, "sqlite_errorname", "") or ""
    if name:
        return name.startswith(SQLITE_UNAVAILABLE)
    # Raised by Python itself (no result code): decide by SQLite's own words.
    text = str(error).lower()
    return any(words in text for words in ("disk is full", "disk i/o error", "database is locked"))


def is_store_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` (or what it was raised from) says the store cannot be reached or
    written now, so that the same request may succeed later. The innermost driver error decides
    when there is one (SQLite's result code, psycopg's class); else the wrapper's kind."""
    chain = list(causes(exc))
    for error in reversed(chain):
        if isinstance(error, sqlite3.Error):
            return _sqlite_unavailable(error)
        if isinstance(error, psycopg.Error):
            return isinstance(error, psycopg.OperationalError | psycopg.InterfaceError)
        if isinstance(error, OSError) and (
            error.errno in OS_UNAVAILABLE or isinstance(error, ConnectionError)
        ):
            return True
    for error in chain:
        if isinstance(error, persistence.OperationalError | persistence.InterfaceError):
            return True
        if type(error) is persistence.PersistenceError:  # a driver error of no finer kind
            return True
        if isinstance(error, sqlalchemy.exc.DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(
            error,
            sqlalchemy.exc.OperationalError
            | sqlalchemy.exc.InterfaceError
            | sqlalchemy.exc.TimeoutError,
        ):
            return True
    return False


def _log(exc: BaseException) -> None:
    log.warning("store unavailable, answered retry later: %s: %s", type(exc).__name__, exc)


# HTTP --------------------------------------------------------------------------------------------


def unavailable_response() -> JSONResponse:
    return JSONResponse(
        {"detail": MESSAGE, "retry_after_seconds": RETRY_AFTER_SECONDS},
        503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _http_handler(_request: Request, exc: Exception) -> JSONResponse:
    if not is_store_unavailable(exc):
        raise exc  # not ours: the server's 500, as before
    _log(exc)
    return unavailable_response()


def install_http_handlers(api: FastAPI) -> None:
    """Answer 503 + ``Retry-After`` when a route failed because the store is unavailable."""
    for error_class in STORE_ERRORS:
        api.add_exception_handler(error_class, _http_handler)


# gRPC --------------------------------------------------------------------------------------------


def unavailable_status(message: str = MESSAGE) -> grpc.Status:
    """UNAVAILABLE with a ``google.rpc.RetryInfo`` saying how long to wait."""
    detail = any_pb2.Any()
    detail.Pack(
        error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=RETRY_AFTER_SECONDS))
    )
    status = status_pb2.Status(code=code_pb2.UNAVAILABLE, message=message, details=[detail])
    return rpc_status.to_status(status)


def retry_delay(error: grpc.aio.AioRpcError) -> float | None:
    """Client side: the wait a retryable error asks for (seconds), or None if it names none."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return float(info.retry_delay.ToTimedelta().total_seconds())
    return None


Context: TypeAlias = grpc.aio.ServicerContext  # type: ignore[type-arg]


async def _abort_if_unavailable(context: Context, exc: Exception) -> None:
    if is_store_unavailable(exc):
        _log(exc)
        await context.abort_with_status(unavailable_status())


def _unary(behavior: Callable[[Any, Context], Any]) -> Callable[..., Awaitable[Any]]:
    async def guarded(request: Any, context: Context) -> Any:
        try:
            result = behavior(request, context)
            return await result if inspect.isawaitable(result) else result
        except STORE_ERRORS as exc:
            await _abort_if_unavailable(context, exc)
            raise

    return guarded


def _streaming(behavior: Callable[[Any, Context], AsyncIterator[Any]]) -> Callable[..., Any]:
    async def guarded(request: Any, context: Context) -> AsyncIterator[Any]:
        try:
            async for reply in behavior(request, context):
                yield reply
        except STORE_ERRORS as exc:
            await _abort_if_unavailable(context, exc)
            raise

    return guarded


class StoreUnavailableInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Every method of the server answers UNAVAILABLE + RetryInfo when the store is away."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        codec = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(_unary(handler.unary_unary), **codec)
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(_unary(handler.stream_unary), **codec)
        if handler.unary_stream and inspect.isasyncgenfunction(handler.unary_stream):
            return grpc.unary_stream_rpc_method_handler(_streaming(handler.unary_stream), **codec)
        if handler.stream_stream and inspect.isasyncgenfunction(handler.stream_stream):
            return grpc.stream_stream_rpc_method_handler(_streaming(handler.stream_stream), **codec)
        return handler  # a streaming method written with context.write: left as it is
