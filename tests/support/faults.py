"""Fault tests: a load generator that keeps its own count of what evidence acknowledged, and the
check every fault test ends with.

Typical use::

    sent = LoadCount()
    await define_outcomes(stack, sent, ["MATH.1", "MATH.2"])
    load = LoadGenerator(stack, sent, students=[f"stu-{n}" for n in range(20)])
    writer = asyncio.create_task(load.record(400))
    ...  # break something, repair it
    await writer
    await assert_nothing_lost_or_doubled(stack, sent)

``assert_nothing_lost_or_doubled`` waits (bounded) until every service has caught up, then
checks each live projection against the streams, against a rebuild from the full history
(``arc-mastery rebuild``, ``arc-reporting rebuild``) and against ``LoadCount``.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import grpc
import nats
from nats.js import JetStreamContext

from arc.catalog.v1 import catalog_pb2
from arc.evidence.v1 import evidence_pb2
from arc.mastery.v1 import mastery_pb2
from arc.reporting.v1 import reporting_pb2
from arc_contracts import (
    AttemptRecordedV1,
    ContractEvent,
    Envelope,
    MasteryChangedV1,
    OutcomeDefinedV1,
    decode,
    stream_name,
    stream_subjects,
)
from arc_platform.bus import last_sequence
from arc_platform.partitions import DEFAULT_PARTITIONS, partition_filter, partition_position_key
from tests.support.stack import ONE_TO_FOUR, Stack, attempt, eventually

#: Errors a client may see while a service or its broker is down: retry the same call (with the
#: same idempotency key). Anything else is a real answer and fails the test.
RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.INTERNAL,
}
#: How long the final checks wait for the system to catch up.
CATCH_UP_SECONDS = 60.0
Pair = tuple[str, str]


@dataclass
class LoadCount:
    """What the load generator knows, independently of the system under test."""

    #: Outcomes the catalog acknowledged (DefineOutcome answered OK).
    outcome_ids: list[str] = field(default_factory=list)
    #: Attempt id -> (student, outcome), for every RecordAttempt answered OK.
    acknowledged: dict[str, Pair] = field(default_factory=dict)
    #: Calls given up on without an answer: each may or may not have been recorded.
    abandoned: int = 0
    #: Calls that failed with a retryable error at least once (how hard the fault hit).
    retried: int = 0

    def pairs(self) -> set[Pair]:
        return set(self.acknowledged.values())

    def students(self) -> set[str]:
        return {student for student, _ in self.acknowledged.values()}


@dataclass
class LoadGenerator:
    """Records attempts through the evidence gRPC API, ``concurrency`` calls at a time, each
    with its own idempotency key, retrying a call that got no answer until it gets one."""

    stack: Stack
    sent: LoadCount
    students: list[str]
    seed: int = 7
    concurrency: int = 4
    give_up_after: float = 60.0
    #: Outcomes to score (default: those defined so far; evidence must already know them).
    outcome_ids: list[str] = field(default_factory=list)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.outcome_ids = self.outcome_ids or list(self.sent.outcome_ids)

    async def record(self, count: int) -> None:
        queue: asyncio.Queue[evidence_pb2.RecordAttemptRequest] = asyncio.Queue()
        for _ in range(count):
            queue.put_nowait(self.next_request())
        await asyncio.gather(*(self._worker(queue) for _ in range(self.concurrency)))

    def next_request(self) -> evidence_pb2.RecordAttemptRequest:
        start = datetime.now(UTC) - timedelta(days=200)
        request = attempt(
            self.rng.choice(self.students),
            self.rng.choice(self.outcome_ids),
            self.rng.randint(1, 4),
            start + timedelta(minutes=self.rng.randint(0, 200 * 24 * 60)),
        )
        request.idempotency_key = f"load-{uuid.uuid4()}"
        return request

    async def _worker(self, queue: asyncio.Queue[evidence_pb2.RecordAttemptRequest]) -> None:
        while not queue.empty():
            await self.send(queue.get_nowait())

    async def send(self, request: evidence_pb2.RecordAttemptRequest) -> str | None:
        """The attempt id once acknowledged; None if abandoned (counted in ``sent``)."""
        deadline = asyncio.get_running_loop().time() + self.give_up_after
        failed_once = False
        while True:
            try:
                reply = await self.stack.evidence().RecordAttempt(request, timeout=10)
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in RETRYABLE:
                    raise
                if not failed_once:
                    failed_once = True
                    self.sent.retried += 1
                if asyncio.get_running_loop().time() > deadline:
                    self.sent.abandoned += 1
                    return None
                await asyncio.sleep(0.1)
                continue
            attempt_id: str = reply.attempt_id
            self.sent.acknowledged[attempt_id] = (request.student_id, request.outcome_id)
            return attempt_id

    async def fence(self) -> str:
        """One attempt for a student nobody else has (its events follow everything before)."""
        request = attempt(f"fence-{uuid.uuid4().hex[:8]}", self.outcome_ids[0], 3)
        request.idempotency_key = f"fence-{uuid.uuid4()}"
        found = await self.send(request)
        assert found is not None, "evidence never acknowledged the fence attempt"
        return found


async def define_outcome(stack: Stack, sent: LoadCount, code: str) -> str:
    """Define one outcome, retrying while the catalog is unreachable (defining the same outcome
    again changes nothing); counted in ``sent`` once acknowledged."""
    request = catalog_pb2.DefineOutcomeRequest(
        code=code, statement=f"I can {code}", scale=ONE_TO_FOUR
    )
    failed_once = False
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        try:
            reply = await stack.catalog().DefineOutcome(request, timeout=10)
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in RETRYABLE or asyncio.get_running_loop().time() > deadline:
                raise
            if not failed_once:
                failed_once = True
                sent.retried += 1
            await asyncio.sleep(0.1)
            continue
        outcome_id: str = reply.outcome_id
        sent.outcome_ids.append(outcome_id)
        return outcome_id


async def define_outcomes(stack: Stack, sent: LoadCount, codes: Iterable[str]) -> list[str]:
    """Define outcomes in the catalog and wait until evidence accepts attempts on each (the
    warm-up attempts count as sent)."""
    defined = [await define_outcome(stack, sent, code) for code in codes]
    for outcome_id in defined:
        warm_up = attempt("warm-up", outcome_id, 1)

        async def accepted(request: evidence_pb2.RecordAttemptRequest = warm_up) -> str:
            reply = await stack.evidence().RecordAttempt(request)
            sent.acknowledged[reply.attempt_id] = ("warm-up", request.outcome_id)
            return str(reply.attempt_id)

        await eventually(accepted, what=f"evidence to know outcome {outcome_id}")
    return defined


# --- reading the streams -----------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    sequence: int
    envelope: Envelope
    event: ContractEvent


async def read_stream(js: JetStreamContext, context: str) -> list[Published]:
    """Every message of a context's stream, decoded, in stream order."""
    end = await last_sequence(js, context)
    found: list[Published] = []
    if end == 0:
        return found
    subscription = await js.subscribe(
        stream_subjects(context), stream=stream_name(context), ordered_consumer=True
    )
    try:
        while not found or found[-1].sequence < end:
            msg = await subscription.next_msg(timeout=5)
            envelope, event = decode(msg.headers, msg.data)
            found.append(Published(msg.metadata.sequence.stream, envelope, event))
    finally:
        await subscription.unsubscribe()
    return found


def attempts_in(messages: list[Published]) -> list[AttemptRecordedV1]:
    return [m.event for m in messages if isinstance(m.event, AttemptRecordedV1)]


def changes_in(messages: list[Published]) -> list[MasteryChangedV1]:
    return [m.event for m in messages if isinstance(m.event, MasteryChangedV1)]


def transition(change: MasteryChangedV1) -> tuple[str, str, str, str]:
    """What identifies one MasteryChanged: the pair and the event that caused it (one cause
    changes a pair's standing at most once; a re-applied cause would repeat this key)."""
    return (change.student_id, change.outcome_id, change.cause.kind, change.cause.event_id)


def repeated(items: Iterable[object]) -> list[object]:
    return [item for item, count in Counter(items).items() if count > 1]


# --- waiting until everything has caught up ----------------------------------------------


async def _stream_ends(js: JetStreamContext, context: str, partitioned: bool) -> dict[str, int]:
    stream = stream_name(context)
    if not partitioned:
        return {stream: await last_sequence(js, context)}
    return {
        partition_position_key(stream, p): await last_sequence(
            js, context, partition_filter(context, p)
        )
        for p in range(DEFAULT_PARTITIONS)
    }


async def mastery_caught_up(stack: Stack, js: JetStreamContext) -> bool:
    status = await stack.mastery().GetProjectionStatus(mastery_pb2.ProjectionStatusRequest())
    positions = {p.stream: p.position for p in status.positions}
    catalog_end = await last_sequence(js, "catalog")
    catalog_copies = {
        partition_position_key(stream_name("catalog"), p): catalog_end
        for p in range(DEFAULT_PARTITIONS)
    }
    wanted = catalog_copies | await _stream_ends(js, "evidence", partitioned=True)
    return all(positions.get(key, 0) >= end for key, end in wanted.items())


async def reporting_caught_up(stack: Stack, js: JetStreamContext) -> bool:
    status = await stack.reporting().GetProjectionStatus(reporting_pb2.ProjectionStatusRequest())
    positions = {p.stream: p.position for p in status.positions}
    wanted = (
        await _stream_ends(js, "catalog", partitioned=False)
        | await _stream_ends(js, "evidence", partitioned=True)
        | await _stream_ends(js, "mastery", partitioned=True)
    )
    return all(positions.get(key, 0) >= end for key, end in wanted.items())


async def _published(js: JetStreamContext, context: str, attempt_id: str) -> bool:
    messages = await read_stream(js, context)
    if context == "evidence":
        return any(a.attempt_id == attempt_id for a in attempts_in(messages))
    return any(c.cause.attempt_id == attempt_id for c in changes_in(messages))


async def _outcomes_published(js: JetStreamContext, outcome_ids: list[str]) -> bool:
    messages = await read_stream(js, "catalog")
    published = {m.event.outcome_id for m in messages if isinstance(m.event, OutcomeDefinedV1)}
    return published >= set(outcome_ids)


async def settle(stack: Stack, sent: LoadCount, js: JetStreamContext) -> None:
    """Wait until the catalog published every outcome it acknowledged, evidence everything it
    stored, mastery applied it all and published every change, and reporting applied all that.

    Relays publish in store order, so an event recorded last is a fence: once it is on the
    stream, so is everything stored before it. The mastery fence is recorded only after mastery
    reached the end of the evidence stream, so its change is the last one mastery stores."""
    await eventually(
        lambda: _outcomes_published(js, sent.outcome_ids),
        timeout=CATCH_UP_SECONDS,
        what="the catalog to publish every outcome it acknowledged",
    )
    load = LoadGenerator(stack, sent, students=[])
    evidence_fence = await load.fence()
    await eventually(
        lambda: _published(js, "evidence", evidence_fence),
        timeout=CATCH_UP_SECONDS,
        what="evidence to publish everything it stored",
    )
    await eventually(
        lambda: mastery_caught_up(stack, js),
        timeout=CATCH_UP_SECONDS,
        what="mastery to apply the whole evidence stream",
    )
    mastery_fence = await load.fence()
    await eventually(
        lambda: _published(js, "mastery", mastery_fence),
        timeout=CATCH_UP_SECONDS,
        what="mastery to publish every change",
    )
    await eventually(
        lambda: reporting_caught_up(stack, js),
        timeout=CATCH_UP_SECONDS,
        what="reporting to apply catalog, evidence and mastery",
    )


# --- the check ---------------------------------------------------------------------------


async def assert_nothing_lost_or_doubled(stack: Stack, sent: LoadCount) -> None:
    """The end of every fault test. After everything has caught up (bounded wait):

    - evidence: every acknowledged attempt is in the stream exactly once; nothing is there the
      generator did not send (beyond calls it abandoned); the store holds the same attempts;
    - catalog: every acknowledged outcome was published exactly once;
    - mastery: each pair applied exactly the attempts the stream holds for it; no event id and
      no transition (see ``transition``) published twice; equal to ``arc-mastery rebuild``;
    - reporting: each pair shows the stream's attempts and mastery changes; equal to
      ``arc-reporting rebuild``.
    """
    nc = await nats.connect(stack.nats_url)
    try:
        js = nc.jetstream()
        await settle(stack, sent, js)
        evidence = await read_stream(js, "evidence")
        mastery = await read_stream(js, "mastery")
        catalog = await read_stream(js, "catalog")
    finally:
        await nc.close()
    by_pair = check_evidence_stream(evidence, sent)
    await check_evidence_store(stack, by_pair)
    check_catalog_stream(catalog, sent)
    changes = check_mastery_stream(mastery)
    await check_mastery(stack, by_pair)
    await check_reporting(stack, by_pair, changes)
    await assert_rebuild_matches(stack, "mastery")
    await assert_rebuild_matches(stack, "reporting")


def check_evidence_stream(messages: list[Published], sent: LoadCount) -> dict[Pair, list[str]]:
    """The stream's attempt ids per pair, after checking them against the generator's count."""
    assert not repeated(m.envelope.id for m in messages), "an evidence event was published twice"
    ids = [a.attempt_id for a in attempts_in(messages)]
    assert not repeated(ids), f"attempts published twice: {repeated(ids)[:5]}"
    lost = set(sent.acknowledged) - set(ids)
    assert not lost, f"{len(lost)} acknowledged attempts lost, e.g. {sorted(lost)[:5]}"
    unknown = set(ids) - set(sent.acknowledged)
    assert len(unknown) <= sent.abandoned, f"attempts nobody acknowledged: {sorted(unknown)[:5]}"
    by_pair: dict[Pair, list[str]] = defaultdict(list)
    for item in attempts_in(messages):
        by_pair[(item.student_id, item.outcome_id)].append(item.attempt_id)
    return dict(by_pair)


async def check_evidence_store(stack: Stack, by_pair: dict[Pair, list[str]]) -> None:
    client = stack.evidence()
    for student in sorted({student for student, _ in by_pair}):
        reply = await client.ListAttempts(
            evidence_pb2.ListAttemptsRequest(student_id=student, include_voided=True)
        )
        stored = sorted(a.attempt_id for a in reply.attempts)
        published = sorted(a for (s, _), ids in by_pair.items() if s == student for a in ids)
        assert stored == published, f"evidence store and stream differ for {student}"


def check_catalog_stream(messages: list[Published], sent: LoadCount) -> None:
    assert not repeated(m.envelope.id for m in messages), "a catalog event was published twice"
    defined = Counter(
        (m.event.outcome_id, m.event.revision)
        for m in messages
        if isinstance(m.event, OutcomeDefinedV1)
    )
    for outcome_id in sent.outcome_ids:
        times = defined[(outcome_id, 1)]
        assert times == 1, f"outcome {outcome_id} published {times} times"


def check_mastery_stream(messages: list[Published]) -> dict[Pair, list[MasteryChangedV1]]:
    assert not repeated(m.envelope.id for m in messages), "a MasteryChanged was published twice"
    changes = changes_in(messages)
    doubled = repeated(transition(c) for c in changes)
    assert not doubled, f"the same transition published twice: {doubled[:5]}"
    by_pair: dict[Pair, list[MasteryChangedV1]] = defaultdict(list)
    for change in changes:
        by_pair[(change.student_id, change.outcome_id)].append(change)
    return dict(by_pair)


async def check_mastery(stack: Stack, by_pair: dict[Pair, list[str]]) -> None:
    client = stack.mastery()
    for (student, outcome), ids in sorted(by_pair.items()):
        live = await client.GetMastery(
            mastery_pb2.GetMasteryRequest(student_id=student, outcome_id=outcome)
        )
        assert sorted(live.attempt_ids) == sorted(ids), f"mastery of {student}/{outcome} differs"


async def check_reporting(
    stack: Stack,
    by_pair: dict[Pair, list[str]],
    changes: dict[Pair, list[MasteryChangedV1]],
) -> None:
    client = stack.reporting()
    for (student, outcome), ids in sorted(by_pair.items()):
        report = await client.GetStudentOutcome(
            reporting_pb2.GetStudentOutcomeRequest(student_id=student, outcome_id=outcome)
        )
        assert sorted(a.attempt_id for a in report.attempts) == sorted(ids), (
            f"reporting's attempts of {student}/{outcome} differ from the stream"
        )
        published = [c.cause.attempt_id or "" for c in changes.get((student, outcome), [])]
        shown = [c.triggered_by_attempt_id for c in report.changes]
        assert shown == published, f"reporting's changes of {student}/{outcome} differ"


async def assert_rebuild_matches(stack: Stack, service: str) -> None:
    """Run ``arc-<service> rebuild`` into a fresh store; it exits 1 on any difference."""
    name = f"rebuild_{uuid.uuid4().hex[:8]}"
    target = name if stack.database_url else str(stack.data_dir / name)
    rebuild = stack.service(service, f"rebuild --into {target}")
    rebuild.start(wait=False)
    code = await asyncio.to_thread(rebuild.wait, 120)
    rebuild.stop()
    log = rebuild.log_path.read_text()[-3000:] if rebuild.log_path else ""
    assert code == 0, f"{service}: the rebuilt projection differs from the live one:\n{log}"
