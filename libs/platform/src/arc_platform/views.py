"""Read models ("views") kept in SQL, each written in one transaction with the stream position
it reached, so that effects and position can never disagree after a crash."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from arc_platform import heap
from arc_platform.settings import ServiceSettings


def create_engine(settings: ServiceSettings) -> Engine:
    url = settings.views_url()
    if not settings.uses_postgres:
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    schema = settings.db_schema
    with sa.create_engine(url).begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    engine = sa.create_engine(
        url, connect_args={"options": f"-csearch_path={schema}"}, pool_pre_ping=True
    )
    # Connections whose buffers a backlog's batches grew are replaced after it.
    heap.renew_on_release(engine, Engine.dispose)
    return engine


def dialect_insert(dialect: str, table: sa.Table) -> Any:
    """The dialect's INSERT, with ON CONFLICT (SQLite and PostgreSQL both have it)."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


class TrackedView:
    """A set of tables plus a ``view_tracking`` table of positions per upstream stream."""

    def __init__(self, engine: Engine, metadata: sa.MetaData) -> None:
        self.engine = engine
        self.metadata = metadata
        self.tracking = sa.Table(
            "view_tracking",
            metadata,
            sa.Column("stream", sa.String(100), primary_key=True),
            sa.Column("position", sa.BigInteger, nullable=False),
            extend_existing=True,
        )
        metadata.create_all(engine)
        # Built once: a live consumer applies batches of one or two messages, and building
        # these statements cost more than running them.
        stream: sa.BindParameter[str] = sa.bindparam("stream")
        self._select_position = sa.select(self.tracking.c.position).where(
            self.tracking.c.stream == stream
        )
        self._select_stream = sa.select(self.tracking.c.stream).where(
            self.tracking.c.stream == stream
        )
        self._insert_position = sa.insert(self.tracking)
        self._advance_position = (
            sa.update(self.tracking)
            .where(self.tracking.c.stream == sa.bindparam("of_stream"))
            .where(self.tracking.c.position == sa.bindparam("current"))
            .values(position=sa.bindparam("to_position"))
        )

    def position(self, stream: str) -> int:
        with self.engine.connect() as conn:
            return self._position(conn, stream)

    def _position(self, conn: Connection, stream: str) -> int:
        row = conn.execute(self._select_position, {"stream": stream}).first()
        return int(row[0]) if row else 0

    def positions(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(self.tracking.c.stream, self.tracking.c.position))
            return {str(stream): int(position) for stream, position in rows}

    @contextmanager
    def advancing(self, stream: str, to_position: int) -> Iterator[Connection]:
        """A transaction whose effects commit together with the new position.

        Raises :class:`StalePosition` (and writes nothing) if the view already reached or
        passed ``to_position``: the caller resumed from a stale position.
        """
        with self.engine.begin() as conn:
            current = self._position(conn, stream)
            if to_position <= current:
                raise StalePosition(stream, current, to_position)
            yield conn
            if current == 0 and not self._has_row(conn, stream):
                conn.execute(self._insert_position, {"stream": stream, "position": to_position})
            else:
                result = conn.execute(
                    self._advance_position,
                    {"of_stream": stream, "current": current, "to_position": to_position},
                )
                if result.rowcount != 1:
                    raise StalePosition(stream, current, to_position)

    def _has_row(self, conn: Connection, stream: str) -> bool:
        found = conn.execute(self._select_stream, {"stream": stream}).first()
        return found is not None


class StalePosition(RuntimeError):
    def __init__(self, stream: str, current: int, wanted: int) -> None:
        super().__init__(f"{stream}: view is at {current}, cannot apply up to {wanted}")
        self.stream = stream
        self.current = current
        self.wanted = wanted
