"""A request that failed because the store was away is answered "retry later" (HTTP 503 with
Retry-After, gRPC UNAVAILABLE with RetryInfo); every other failure stays a server error."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
import httpx
import psycopg
import pytest
import sqlalchemy as sa
from eventsourcing import persistence
from fastapi import FastAPI

from arc_platform.devstack import free_port
from arc_platform.unavailable import (
    StoreUnavailableInterceptor,
    install_http_handlers,
    is_store_unavailable,
    retry_delay,
)


def raised(action: Callable[[], object]) -> BaseException:
    with pytest.raises(Exception) as caught:
        action()
    return caught.value


def sqlite_disk_full(tmp_path: Path) -> BaseException:
    """A real SQLITE_FULL: the database may not grow past its few pages."""
    conn = sqlite3.connect(tmp_path / "full.sqlite")
    conn.execute("CREATE TABLE t (x BLOB)")
    conn.execute("PRAGMA max_page_count = 3")
    return raised(lambda: conn.execute("INSERT INTO t VALUES (zeroblob(100000))"))


def sqlite_locked(tmp_path: Path) -> BaseException:
    """A real SQLITE_BUSY: another connection holds the write lock past our busy timeout."""
    path = tmp_path / "locked.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    waiter = sqlite3.connect(path, timeout=0.01)
    return raised(lambda: waiter.execute("INSERT INTO t VALUES (1)"))


def wrapped(cause: BaseException, wrapper: type[Exception]) -> BaseException:
    """As eventsourcing's recorders raise it: its own class, from the driver's error."""
    try:
        raise wrapper(str(cause)) from cause
    except wrapper as exc:
        return exc


def postgres_refused() -> BaseException:
    """A real connection failure: nothing listens on the port."""
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    return raised(lambda: psycopg.connect(url, connect_timeout=2))


def test_a_store_that_cannot_be_reached_or_written_is_unavailable(tmp_path: Path) -> None:
    full, locked, refused = sqlite_disk_full(tmp_path), sqlite_locked(tmp_path), postgres_refused()
    assert is_store_unavailable(full) and "full" in str(full)
    assert is_store_unavailable(locked)
    assert is_store_unavailable(refused)
    assert is_store_unavailable(wrapped(full, persistence.OperationalError))
    assert is_store_unavailable(wrapped(refused, persistence.OperationalError))
    assert is_store_unavailable(wrapped(refused, persistence.PersistenceError))
    assert is_store_unavailable(OSError(28, "No space left on device"))
    assert is_store_unavailable(ConnectionRefusedError(111, "Connection refused"))


def test_a_views_engine_that_lost_its_database_is_unavailable(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'missing' / 'views.sqlite'}")
    error = raised(lambda: engine.connect())
    assert isinstance(error, sa.exc.OperationalError)
    assert is_store_unavailable(error)


def test_bugs_and_conflicts_are_not_unavailable(tmp_path: Path) -> None:
    conn = sqlite3.connect(":memory:")
    no_table = raised(lambda: conn.execute("SELECT * FROM nowhere"))
    assert not is_store_unavailable(no_table)
    assert not is_store_unavailable(wrapped(no_table, persistence.OperationalError))
    duplicate = sqlite3.IntegrityError("UNIQUE constraint failed")
    assert not is_store_unavailable(wrapped(duplicate, persistence.IntegrityError))
    assert not is_store_unavailable(ValueError("a bug"))
    assert not is_store_unavailable(FileNotFoundError(2, "No such file"))


def http_app(error: BaseException) -> FastAPI:
    api = FastAPI()
    install_http_handlers(api)

    @api.post("/write")
    def write() -> None:
        raise error

    return api


async def test_http_answers_503_with_retry_after_when_the_store_is_away(tmp_path: Path) -> None:
    full = wrapped(sqlite_disk_full(tmp_path), persistence.OperationalError)
    transport = httpx.ASGITransport(app=http_app(full))
    async with httpx.AsyncClient(transport=transport, base_url="http://evidence") as client:
        reply = await client.post("/write")
    assert reply.status_code == 503
    assert reply.headers["Retry-After"] == "1"
    assert reply.json()["retry_after_seconds"] == 1
    assert "unavailable" in reply.json()["detail"]


async def test_http_bug_stays_a_500() -> None:
    bug = wrapped(sqlite3.OperationalError("no such table: attempts"), persistence.OperationalError)
    transport = httpx.ASGITransport(app=http_app(bug), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://evidence") as client:
        reply = await client.post("/write")
    assert reply.status_code == 500
    assert "Retry-After" not in reply.headers


async def grpc_call(error: BaseException, method: str = "Write") -> grpc.aio.AioRpcError:
    """Serve one failing method (unary, or streaming) behind the interceptor and call it."""

    async def write(_request: bytes, _context: object) -> bytes:
        raise error

    async def follow(_request: bytes, _context: object) -> AsyncIterator[bytes]:
        yield b"first"
        raise error

    handlers = {
        "Write": grpc.unary_unary_rpc_method_handler(write),
        "Follow": grpc.unary_stream_rpc_method_handler(follow),
    }
    server = grpc.aio.server(interceptors=[StoreUnavailableInterceptor()])
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("test.Store", handlers)])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                if method == "Write":
                    await channel.unary_unary(f"/test.Store/{method}")(b"", timeout=5)
                else:
                    async for _ in channel.unary_stream(f"/test.Store/{method}")(b"", timeout=5):
                        pass
            return caught.value
    finally:
        await server.stop(0)


async def test_grpc_answers_unavailable_with_a_retry_delay() -> None:
    refused = wrapped(postgres_refused(), persistence.OperationalError)
    for method in ("Write", "Follow"):
        error = await grpc_call(refused, method)
        assert error.code() == grpc.StatusCode.UNAVAILABLE, method
        assert retry_delay(error) == 1.0
        assert "try again" in (error.details() or "")


async def test_grpc_bug_is_not_retryable() -> None:
    error = await grpc_call(ValueError("a bug"))
    assert error.code() == grpc.StatusCode.UNKNOWN
    assert retry_delay(error) is None
