"""An event store whose PostgreSQL goes away: a write fails within seconds, as "unavailable"
(not after the library's default 5 minutes), and once the database is back the very next write
succeeds at once (the pool does not sit out a long reconnection backoff)."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from arc_platform.settings import ServiceSettings
from arc_platform.store import open_application
from arc_platform.unavailable import is_store_unavailable
from tests.support.pgcluster import (
    PgCluster,
)

pytestmark = pytest.mark.postgres


def timed(action: Any) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        action()
    except Exception as exc:
        return time.monotonic() - started, exc
    return time.monotonic() - started, None


def test_a_store_whose_database_was_away_writes_again_as_soon_as_it_is_back(
    cluster: PgCluster,
) -> None:
    settings = ServiceSettings(service_name="probe", database_url=cluster.url())
    app: Application[UUID] = open_application(Application, settings)
    try:
        app.save(Aggregate())

        cluster.stop("fast")
        # Two writers in turn, as requests queue at a service: the outage lasts both waits.
        for _ in range(2):
            took, error = timed(lambda: app.save(Aggregate()))
            assert error is not None and is_store_unavailable(error)
            assert took < 20, f"the caller waited {took:.1f}s to hear the store is away"

        cluster.start()
        took, error = timed(lambda: app.save(Aggregate()))
        assert error is None
        assert took < 3, f"the first write after the database came back took {took:.1f}s"
    finally:
        app.close()
