"""For tests that take the store away from under the services (PostgreSQL restarted or stopped,
SQLite's disk full): a writer that records single attempts and whole class batches through
evidence's gRPC API, each call with its own idempotency key, retrying only what the service
says is retryable (UNAVAILABLE, after the wait its RetryInfo asks for) and counting every error
it was given, so a test can tell "the service said retry" from "the service broke".

What it acknowledges goes into the shared ``LoadCount`` of ``tests.support.faults``, so the
usual final check (``assert_nothing_lost_or_doubled``) covers it; batches are checked whole
(:func:`assert_batches_whole`)."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import httpx
import nats
from grpc_health.v1 import health_pb2, health_pb2_grpc

from arc.evidence.v1 import evidence_pb2
from arc_contracts import AttemptRecordedV1
from arc_platform.readiness import READINESS_SERVICE
from arc_platform.unavailable import retry_delay
from tests.support.faults import LoadCount, read_stream
from tests.support.stack import Stack, attempt, eventually, timestamp

#: What a writer may be told while the store is away: try the same call again later.
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE})
BATCH_ROWS = 5
#: A request still told to retry after this long fails the test (the service never recovered).
GIVE_UP_SECONDS = 90.0


async def until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    """Wait (bounded) for a condition on what the test itself counts."""

    async def check() -> bool:
        return condition()

    await eventually(check, timeout=timeout, what=what)


@dataclass
class Writer:
    """Teachers recording attempts, ``concurrency`` calls at a time."""

    stack: Stack
    sent: LoadCount
    students: list[str]
    concurrency: int = 4
    seed: int = 11
    #: A call that gets no answer in this time failed (DEADLINE_EXCEEDED: not retried).
    call_timeout: float = 30.0
    give_up_after: float = GIVE_UP_SECONDS
    #: Error codes the writers were answered with, each time.
    errors: Counter[grpc.StatusCode] = field(default_factory=Counter)
    #: The waits the retryable answers asked for (RetryInfo), in seconds.
    retry_hints: list[float] = field(default_factory=list)
    #: Assessment ref of each acknowledged batch -> its attempt ids.
    batches: dict[str, list[str]] = field(default_factory=dict)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    async def record(self, singles: int, batches: int) -> None:
        """``singles`` one-attempt calls and ``batches`` class batches, shuffled."""
        calls: list[Callable[[], Awaitable[None]]] = [self.single, self.batch]
        work = [calls[0]] * singles + [calls[1]] * batches
        self.rng.shuffle(work)
        queue: asyncio.Queue[Callable[[], Awaitable[None]]] = asyncio.Queue()
        for item in work:
            queue.put_nowait(item)

        async def worker() -> None:
            while not queue.empty():
                await queue.get_nowait()()

        await asyncio.gather(*(worker() for _ in range(self.concurrency)))

    def _when(self) -> datetime:
        return datetime.now(UTC) - timedelta(minutes=self.rng.randint(60, 200 * 24 * 60))

    async def single(self) -> None:
        request = attempt(
            self.rng.choice(self.students),
            self.rng.choice(self.sent.outcome_ids),
            self.rng.randint(1, 4),
            self._when(),
        )
        request.idempotency_key = f"single-{uuid.uuid4()}"
        reply = await self.call("RecordAttempt", request)
        self.sent.acknowledged[reply.attempt_id] = (request.student_id, request.outcome_id)

    async def batch(self) -> None:
        """One class's scores on one quiz (its own assessment ref): all rows or none."""
        outcome = self.rng.choice(self.sent.outcome_ids)
        request = evidence_pb2.RecordBatchRequest(
            recorded_by="teacher-ada",
            assessed_at=timestamp(self._when()),
            assessment_ref=f"quiz-{uuid.uuid4()}",
            idempotency_key=f"batch-{uuid.uuid4()}",
            rows=[
                evidence_pb2.BatchRow(
                    student_id=student,
                    scores=[
                        evidence_pb2.OutcomeScore(
                            outcome_id=outcome, score=str(self.rng.randint(1, 4))
                        )
                    ],
                )
                for student in self.rng.sample(self.students, BATCH_ROWS)
            ],
        )
        reply = await self.call("RecordBatch", request)
        ids = [attempt_id for row in reply.rows for attempt_id in row.attempt_ids]
        for row in reply.rows:
            for attempt_id in row.attempt_ids:
                self.sent.acknowledged[attempt_id] = (row.student_id, outcome)
        self.batches[request.assessment_ref] = ids

    async def call(self, method: str, request: Any) -> Any:
        """Call until answered; retry (same request, same key) only what is retryable."""
        failed_once = False
        give_up_at = asyncio.get_running_loop().time() + self.give_up_after
        while True:
            try:
                return await getattr(self.stack.evidence(), method)(
                    request, timeout=self.call_timeout
                )
            except grpc.aio.AioRpcError as exc:
                self.errors[exc.code()] += 1
                if exc.code() not in RETRYABLE:
                    raise
                if asyncio.get_running_loop().time() > give_up_at:
                    raise AssertionError(f"{method}: still unavailable, giving up") from exc
                if not failed_once:
                    failed_once = True
                    self.sent.retried += 1
                hint = retry_delay(exc)
                if hint is not None:
                    self.retry_hints.append(hint)
                await asyncio.sleep(hint if hint is not None else 0.2)


@dataclass
class HttpWriter:
    """A teacher's gradebook posting attempts to evidence's HTTP API, one at a time, each with
    its own ``Idempotency-Key``, retrying a 503 after the ``Retry-After`` it was given."""

    stack: Stack
    sent: LoadCount
    students: list[str]
    seed: int = 13
    #: Status codes of the failed posts, each time.
    errors: Counter[int] = field(default_factory=Counter)
    #: The ``Retry-After`` headers of the 503 answers.
    retry_after: list[str | None] = field(default_factory=list)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    async def record(self, count: int) -> None:
        headers = {"Authorization": f"Bearer {self.stack.token()}"}
        base_url = self.stack.http_url("evidence")
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as http:
            for _ in range(count):
                await self.post(http)

    async def post(self, http: httpx.AsyncClient) -> None:
        student, outcome = self.rng.choice(self.students), self.rng.choice(self.sent.outcome_ids)
        body = {
            "student_id": student,
            "scores": [{"outcome_id": outcome, "score": str(self.rng.randint(1, 4))}],
            "assessed_at": (
                datetime.now(UTC) - timedelta(days=self.rng.randint(1, 200))
            ).isoformat(),
        }
        key = {"Idempotency-Key": f"http-{uuid.uuid4()}"}
        give_up_at = asyncio.get_running_loop().time() + GIVE_UP_SECONDS
        while True:
            assert asyncio.get_running_loop().time() < give_up_at, "evidence never recovered"
            reply = await http.post("/api/v1/attempts", json=body, headers=key)
            if reply.status_code == 201:
                for attempt_id in reply.json()["attempt_ids"]:
                    self.sent.acknowledged[attempt_id] = (student, outcome)
                return
            self.errors[reply.status_code] += 1
            assert reply.status_code == 503, f"evidence answered {reply.status_code}: {reply.text}"
            self.retry_after.append(reply.headers.get("Retry-After"))
            await asyncio.sleep(float(reply.headers.get("Retry-After") or 1))


async def assert_batches_whole(stack: Stack, writer: Writer) -> None:
    """Every batch on the evidence stream has all its rows, exactly the acknowledged ones."""
    nc = await nats.connect(stack.nats_url)
    try:
        messages = await read_stream(nc.jetstream(), "evidence")
    finally:
        await nc.close()
    published: dict[str, list[str]] = {}
    for message in messages:
        event = message.event
        if isinstance(event, AttemptRecordedV1) and (event.assessment_ref or "").startswith(
            "quiz-"
        ):
            published.setdefault(event.assessment_ref or "", []).append(event.attempt_id)
    published = {ref: ids for ref, ids in published.items() if ref.startswith("quiz-")}
    half_written = {ref: ids for ref, ids in published.items() if len(ids) != BATCH_ROWS}
    assert not half_written, f"batches half-written: {half_written}"
    assert set(published) == set(writer.batches), "a batch was lost, or recorded unacknowledged"
    for ref, ids in writer.batches.items():
        assert sorted(published[ref]) == sorted(ids), f"batch {ref} differs from its answer"


async def store_ready(stack: Stack, service: str) -> bool:
    """The service says it is ready (its readiness check reaches the store and NATS again)."""
    port = stack.processes[service].grpc_port
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=READINESS_SERVICE), timeout=2
        )
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
