"""PostgreSQL is restarted while teachers record attempts and class batches: writers are told to
retry (UNAVAILABLE, never INTERNAL), nothing acknowledged is lost or written twice, no batch is
half-written, and every service carries on by itself once the database is back.

The database is a throwaway cluster started for this test from the local PostgreSQL binaries
(``tests.support.pgcluster``), never the shared server."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from tests.support.faults import LoadCount, assert_nothing_lost_or_doubled, define_outcomes
from tests.support.pgcluster import (
    PgCluster,
)
from tests.support.stack import Stack, eventually
from tests.support.store_faults import (
    RETRYABLE,
    Writer,
    assert_batches_whole,
    store_ready,
    until,
)

pytestmark = pytest.mark.postgres


async def test_postgres_restarted_under_load_loses_nothing(
    cluster_stack: Stack, cluster: PgCluster
) -> None:
    stack = cluster_stack
    sent = LoadCount()
    await define_outcomes(stack, sent, ["MATH.1", "MATH.2", "MATH.3"])
    writer = Writer(stack, sent, students=[f"stu-{n}" for n in range(20)])
    teachers = asyncio.create_task(writer.record(singles=300, batches=30))

    # A fast restart: sessions are cut, the server comes straight back.
    await until(lambda: len(sent.acknowledged) > 80, "part of the load to be recorded")
    await asyncio.to_thread(cluster.restart, "fast")

    # A crash (immediate shutdown, recovery from the WAL), down until writers have been told
    # to retry: the library's own short retries cannot hide it.
    await until(lambda: len(sent.acknowledged) > 250, "more of the load to be recorded")
    told_to_retry = writer.errors[grpc.StatusCode.UNAVAILABLE]
    await asyncio.to_thread(cluster.stop, "immediate")
    await until(
        lambda: writer.errors[grpc.StatusCode.UNAVAILABLE] > told_to_retry,
        "a writer to be told the store is unavailable",
    )
    await asyncio.to_thread(cluster.start)
    await teachers

    # Told to retry, and only that: never INTERNAL, UNKNOWN or a deadline run out.
    assert set(writer.errors) <= RETRYABLE, f"writers saw {dict(writer.errors)}"
    assert writer.retry_hints and set(writer.retry_hints) == {1.0}
    for service in ("catalog", "evidence", "mastery", "reporting"):
        await eventually(lambda s=service: store_ready(stack, s), what=f"{service} ready again")
    await assert_nothing_lost_or_doubled(stack, sent)
    await assert_batches_whole(stack, writer)
