"""Fixtures shared by the fault tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.pgcluster import PgCluster
from tests.support.stack import Stack


@pytest.fixture
def cluster_stack(nats_url: str, tmp_path: Path, cluster: PgCluster) -> Iterator[Stack]:
    """The four services on a throwaway PostgreSQL cluster the test may restart or stop."""
    running = Stack(nats_url, tmp_path / "data", cluster.url()).start()
    yield running
    running.stop()
