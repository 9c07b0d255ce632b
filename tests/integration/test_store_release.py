"""After a backlog, a release renews the PostgreSQL connections a process pools (the event
store's and the views'): libpq keeps each connection's buffers as large as the largest
statement it carried. The store and the views work on, on new connections."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg_pool
import pytest
import sqlalchemy as sa
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from arc_platform import heap
from arc_platform.settings import ServiceSettings
from arc_platform.store import open_application
from arc_platform.views import create_engine

pytestmark = pytest.mark.postgres


class Note(Aggregate):
    def __init__(self, text: str) -> None:
        self.text = text


def backend_of(pool: psycopg_pool.ConnectionPool[Any]) -> int:
    with pool.connection() as conn:
        return int(conn.info.backend_pid)


def test_a_release_renews_the_event_stores_connections(postgres_url: str, tmp_path: Path) -> None:
    settings = ServiceSettings(service_name="probe", data_dir=tmp_path, database_url=postgres_url)
    app: Application[UUID] = open_application(Application, settings)
    try:
        pool = app.recorder.datastore.pool  # type: ignore[attr-defined]
        first = Note("x" * 500_000)  # a large statement: its connection's buffer grows to fit
        app.save(first)
        before = every_backend_of(pool)
        assert heap.release_free_heap() == (heap._trim is not None)
        assert not every_backend_of(pool) & before  # idle connections closed and replaced
        second = Note("after")
        app.save(second)
        assert app.repository.get(first.id).text == "x" * 500_000
        assert app.repository.get(second.id).text == "after"
    finally:
        app.close()
    heap.release_free_heap()  # a closed store's pool is not renewed, nor does it stop a release


def test_a_release_renews_the_views_connections(postgres_url: str, tmp_path: Path) -> None:
    settings = ServiceSettings(service_name="probe", data_dir=tmp_path, database_url=postgres_url)
    engine = create_engine(settings)

    def backend() -> int:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("select pg_backend_pid()")).scalar_one())

    before = backend()
    heap.release_free_heap()
    assert backend() != before
    engine.dispose()


def test_evidence_opens_its_store_the_shared_way_so_a_release_renews_it_too(
    postgres_url: str, tmp_path: Path
) -> None:
    from arc_evidence.__main__ import EvidenceSettings, open_store

    app = open_store(EvidenceSettings(data_dir=tmp_path, database_url=postgres_url), None)
    try:
        pool = app.recorder.datastore.pool  # type: ignore[attr-defined]
        before = every_backend_of(pool)
        heap.release_free_heap()
        assert not every_backend_of(pool) & before  # every idle connection was replaced
    finally:
        app.close()


def every_backend_of(pool: psycopg_pool.ConnectionPool[Any]) -> set[int]:
    """The backends of the pool's idle connections: taken one at a time, they come round in
    turn."""
    return {backend_of(pool) for _ in range(2 * pool.max_size)}
