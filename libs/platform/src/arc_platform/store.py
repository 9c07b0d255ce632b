"""Event stores: eventsourcing applications persisted in SQLite by default, PostgreSQL when
``ARC_DATABASE_URL`` is set. Each service owns its store (own file, or own schema/database)."""

from __future__ import annotations

from typing import Any, TypeVar

import psycopg
import psycopg_pool
from eventsourcing.application import Application
from psycopg_pool.base import AttemptWithBackoff

from arc_platform import heap
from arc_platform.settings import ServiceSettings

AppT = TypeVar("AppT", bound=Application[Any])


def reconnect_promptly() -> None:
    """The event store's connection pool tries to reconnect every second while PostgreSQL is
    away, instead of doubling its wait each time (1, 2, 4, 8… s): otherwise a service whose
    database was away for a minute stays unable to write for up to another minute after it is
    back (measured: an 11 s outage, then 11 s more). A refused connection costs nothing."""
    AttemptWithBackoff.DELAY_BACKOFF = 1.0


def ensure_postgres_schema(settings: ServiceSettings) -> None:
    if not settings.database_url:
        return
    reconnect_promptly()
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{settings.db_schema}"')


def open_application(app_class: type[AppT], settings: ServiceSettings, **options: Any) -> AppT:
    ensure_postgres_schema(settings)
    app = app_class(env=settings.eventsourcing_env(), **options)
    pool = getattr(getattr(app.recorder, "datastore", None), "pool", None)
    if isinstance(pool, psycopg_pool.ConnectionPool):
        # Connections whose buffers a backlog's batches grew are replaced after it.
        heap.renew_on_release(pool, psycopg_pool.ConnectionPool.drain)
    return app
