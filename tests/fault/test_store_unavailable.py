"""Evidence loses its store while teachers record attempts (over gRPC, and over HTTP from a
gradebook): its disk fills up (SQLite), or its PostgreSQL is stopped. Every writer is told to
retry later (HTTP 503 with Retry-After, gRPC UNAVAILABLE with RetryInfo) and nothing else;
once the store is back, the same requests (same idempotency keys) succeed, and nothing
acknowledged is lost or counted twice, down to every projection."""

from __future__ import annotations

import asyncio
import resource
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from arc_platform.devstack import ServiceProcess
from tests.support.faults import LoadCount, assert_nothing_lost_or_doubled, define_outcomes
from tests.support.pgcluster import (
    PgCluster,
)
from tests.support.stack import Stack
from tests.support.store_faults import (
    RETRYABLE,
    HttpWriter,
    Writer,
    assert_batches_whole,
    until,
)

STUDENTS = [f"stu-{n}" for n in range(12)]


@dataclass
class FullDisk:
    """The service can no longer grow or write any file past its first byte, as on a full
    disk: writes fail with EFBIG (Python ignores SIGXFSZ), which SQLite reports as a disk or
    I/O error. The process's file-size limit is lowered from outside, then restored."""

    service: ServiceProcess
    before: tuple[int, int] | None = None

    def fill(self) -> None:
        assert self.service.process is not None
        pid = self.service.process.pid
        self.before = resource.prlimit(pid, resource.RLIMIT_FSIZE)
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, self.before[1]))

    def free(self) -> None:
        if self.before is not None and self.service.process is not None:
            resource.prlimit(self.service.process.pid, resource.RLIMIT_FSIZE, self.before)
            self.before = None


async def record_through_the_fault(
    stack: Stack,
    sent: LoadCount,
    break_store: Callable[[], object],
    repair_store: Callable[[], object],
) -> tuple[Writer, HttpWriter]:
    """Record some attempts, break the store, keep writers going until both APIs have told
    them to retry, repair the store, and let every writer finish."""
    writer = Writer(stack, sent, STUDENTS)
    await writer.record(singles=30, batches=3)
    gradebook = HttpWriter(stack, sent, STUDENTS)
    await asyncio.to_thread(break_store)
    teachers = asyncio.gather(writer.record(singles=60, batches=6), gradebook.record(8))
    await until(
        lambda: writer.errors[grpc.StatusCode.UNAVAILABLE] > 0 and gradebook.errors[503] > 0,
        "both APIs to tell their writers to retry",
    )
    await asyncio.to_thread(repair_store)
    await teachers
    return writer, gradebook


def assert_told_to_retry_later(writer: Writer, gradebook: HttpWriter) -> None:
    assert set(writer.errors) <= RETRYABLE, f"gRPC writers were answered {dict(writer.errors)}"
    assert writer.retry_hints and set(writer.retry_hints) == {1.0}
    assert set(gradebook.errors) == {503}, f"HTTP writer was answered {dict(gradebook.errors)}"
    assert gradebook.retry_after and set(gradebook.retry_after) == {"1"}


@pytest.fixture
def sqlite_stack(nats_url: str, tmp_path: Path) -> Iterator[Stack]:
    running = Stack(nats_url, tmp_path / "data").start()
    yield running
    running.stop()


async def test_a_full_disk_at_evidence_answers_retry_later_and_loses_nothing(
    sqlite_stack: Stack,
) -> None:
    stack = sqlite_stack
    sent = LoadCount()
    await define_outcomes(stack, sent, ["MATH.1", "MATH.2"])
    disk = FullDisk(stack.processes["evidence"])
    try:
        writer, gradebook = await record_through_the_fault(stack, sent, disk.fill, disk.free)
    finally:
        disk.free()

    assert_told_to_retry_later(writer, gradebook)
    await assert_nothing_lost_or_doubled(stack, sent)
    await assert_batches_whole(stack, writer)


@pytest.mark.postgres
async def test_a_stopped_postgres_at_evidence_answers_retry_later_and_loses_nothing(
    cluster_stack: Stack, cluster: PgCluster
) -> None:
    stack = cluster_stack
    sent = LoadCount()
    await define_outcomes(stack, sent, ["MATH.1", "MATH.2"])

    writer, gradebook = await record_through_the_fault(
        stack, sent, lambda: cluster.stop("fast"), cluster.start
    )

    assert_told_to_retry_later(writer, gradebook)
    await assert_nothing_lost_or_doubled(stack, sent)
    await assert_batches_whole(stack, writer)
