"""Event stores: eventsourcing applications persisted in SQLite by default, PostgreSQL when
``ARC_DATABASE_URL`` is set. Each service owns its store (own file, or own schema/database)."""

from __future__ import annotations

from typing import Any, TypeVar

import psycopg
from eventsourcing.application import Application

from arc_platform.settings import ServiceSettings

AppT = TypeVar("AppT", bound=Application[Any])


def ensure_postgres_schema(settings: ServiceSettings) -> None:
    if not settings.database_url:
        return
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{settings.db_schema}"')


def open_application(app_class: type[AppT], settings: ServiceSettings, **options: Any) -> AppT:
    ensure_postgres_schema(settings)
    return app_class(env=settings.eventsourcing_env(), **options)
