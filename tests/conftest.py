"""Fixtures on real components: a nats-server with JetStream started from the wheel (or from
testcontainers when a Docker engine answers), and PostgreSQL at ARC_TEST_POSTGRES_URL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from arc_platform.devstack import NatsServer
from tests.support.docker import nats_from_testcontainers
from tests.support.pgcluster import (
    NoPostgresBinaries,
    PgCluster,
    throwaway_cluster,
    without_binaries,
)

POSTGRES_URL = os.environ.get(
    "ARC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"


@pytest.fixture
def nats_url(tmp_path: Path) -> Iterator[str]:
    """A fresh JetStream server for each test, so streams never leak between tests."""
    with nats_from_testcontainers() as docker_url:
        if docker_url:
            yield docker_url
            return
    server = NatsServer(tmp_path / "nats").start()
    try:
        yield server.url
    finally:
        server.stop()


def _admin_connection() -> psycopg.Connection[tuple[object, ...]] | None:
    try:
        return psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}"
        if REQUIRE_POSTGRES:
            pytest.fail(f"REQUIRE_POSTGRES=1 but {message}")
        pytest.skip(f"SKIPPING POSTGRES TEST LOUDLY: {message}")
    return None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database for one test, dropped afterwards."""
    admin = _admin_connection()
    assert admin is not None
    name = f"arc_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        base = POSTGRES_URL.rsplit("/", 1)[0]
        try:
            yield f"{base}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """Run a test once on the embedded default (SQLite: None) and once on PostgreSQL."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    """A throwaway PostgreSQL cluster from the local binaries, never the shared server."""
    try:
        with throwaway_cluster() as running:
            yield running
    except NoPostgresBinaries as exc:
        without_binaries(exc)
