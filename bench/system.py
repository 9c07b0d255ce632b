"""The system under load: the four services as processes on one nats-server, driven through
their public gRPC APIs."""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import nats
from google.protobuf.timestamp_pb2 import Timestamp

from arc.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from arc.evidence.v1 import evidence_pb2, evidence_pb2_grpc
from arc_contracts import MasteryChangedV1, decode
from arc_platform.auth.client import bearer_interceptors
from arc_platform.auth.dev_issuer import DevIssuerServer
from arc_platform.bus import last_sequence
from arc_platform.devstack import SERVICES, NatsServer, ServiceProcess, free_port, service_env
from bench.workload import Network

SCALE = catalog_pb2.ProficiencyScale(
    name="Four-point",
    levels=[catalog_pb2.ScaleLevel(value=v, label=f"L{v}") for v in (1, 2, 3, 4)],
    mastery_threshold=3,
)


def stamp(value: datetime) -> Timestamp:
    result = Timestamp()
    result.FromDatetime(value)
    return result


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Stack:
    """nats-server and the four services, on SQLite (database_url None) or PostgreSQL."""

    root: Path
    database_url: str | None
    nats: NatsServer | None = None
    processes: dict[str, ServiceProcess] = field(default_factory=dict)
    #: The development token issuer the services trust; the bench calls as the network admin.
    issuer: DevIssuerServer | None = None

    def start(self) -> Stack:
        self.nats = NatsServer(self.root / "nats").start()
        self.issuer = DevIssuerServer(self.root / "dev-issuer").start()
        for name in SERVICES:
            self.processes[name] = self.service(name).start()
        return self

    def service(self, name: str, command: str = "serve", **extra: str) -> ServiceProcess:
        assert self.nats is not None
        port = self.processes[name].grpc_port if name in self.processes else free_port()
        env = service_env(
            name,
            self.nats.url,
            self.root / "data",
            port,
            self.database_url,
            {"ARC_HTTP_PORT": str(free_port()), "ARC_RELAY_POLL_SECONDS": "0.02", **extra},
        )
        assert self.issuer is not None
        env = {**self.issuer.service_env(), **env}
        return ServiceProcess(name, env, command, log_path=self.root / "logs" / f"{name}.log")

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()
        if self.nats:
            self.nats.stop()
        if self.issuer:
            self.issuer.stop()

    def channel(self, name: str) -> grpc.aio.Channel:
        assert self.issuer is not None
        token = self.issuer.issuer.token("admin")
        target = f"127.0.0.1:{self.processes[name].grpc_port}"
        return grpc.aio.insecure_channel(target, interceptors=bearer_interceptors(token))


async def define_outcomes(stack: Stack, network: Network) -> None:
    async with stack.channel("catalog") as channel:
        catalog = catalog_pb2_grpc.CatalogServiceStub(channel)
        for outcome in network.outcomes:
            await catalog.DefineOutcome(
                catalog_pb2.DefineOutcomeRequest(
                    outcome_id=outcome, code=outcome.upper(), statement="I can", scale=SCALE
                )
            )
    async with stack.channel("evidence") as channel:
        evidence = evidence_pb2_grpc.EvidenceServiceStub(channel)
        for outcome in network.outcomes:  # wait until evidence has learned every outcome
            for _ in range(400):
                try:
                    await evidence.RecordAttempt(
                        single("bench-warmup", outcome, 1, datetime.now(UTC))
                    )
                    break
                except grpc.aio.AioRpcError:
                    await asyncio.sleep(0.05)


def single(
    student: str, outcome: str, score: int, when: datetime
) -> evidence_pb2.RecordAttemptRequest:
    return evidence_pb2.RecordAttemptRequest(
        student_id=student,
        outcome_id=outcome,
        score=score,
        assessed_at=stamp(when),
        recorded_by="bench",
    )


@dataclass(frozen=True)
class Ingest:
    attempts: int
    seconds: float
    accepted: list[tuple[str, str]]  # (student, attempt id)

    @property
    def rate(self) -> float:
        return self.attempts / self.seconds


async def ingest_batched(
    stack: Stack, network: Network, in_flight: int = 4, progress: Any = None
) -> Ingest:
    """Every assessment as one class batch (a row per student) through RecordBatch, four
    teachers at a time."""
    ids: list[tuple[str, str]] = []
    queue = list(network.assessments)
    count = 0
    async with stack.channel("evidence") as channel:
        evidence = evidence_pb2_grpc.EvidenceServiceStub(channel)

        async def worker() -> None:
            nonlocal count
            while queue:
                sitting = queue.pop()
                outcome = network.outcomes[sitting.outcome]
                reply = await evidence.RecordBatch(
                    evidence_pb2.RecordBatchRequest(
                        recorded_by="bench",
                        assessed_at=stamp(sitting.assessed_at),
                        assessment_ref=f"sitting-{sitting.section}-{sitting.outcome}-{sitting.assessed_at:%j}",
                        rows=[
                            evidence_pb2.BatchRow(
                                student_id=student,
                                scores=[
                                    evidence_pb2.OutcomeScore(outcome_id=outcome, score=str(score))
                                ],
                            )
                            for student, score in sitting.scores
                        ],
                    )
                )
                for row in reply.rows:
                    ids.extend((row.student_id, a) for a in row.attempt_ids)
                count += len(sitting.scores)
                if progress:
                    progress(len(sitting.scores))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        elapsed = time.perf_counter() - started
    return Ingest(count, elapsed, ids)


async def ingest_single(
    stack: Stack, network: Network, attempts: int, in_flight: int = 16
) -> Ingest:
    rng = random.Random(7)
    ids: list[tuple[str, str]] = []
    async with stack.channel("evidence") as channel:
        evidence = evidence_pb2_grpc.EvidenceServiceStub(channel)
        remaining = attempts

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                student = rng.choice(network.students)
                reply = await evidence.RecordAttempt(
                    single(
                        student,
                        rng.choice(network.outcomes),
                        rng.randint(1, 4),
                        datetime.now(UTC) - timedelta(days=1),
                    )
                )
                ids.append((student, reply.attempt_id))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        elapsed = time.perf_counter() - started
    return Ingest(attempts, elapsed, ids)


async def void_some(stack: Stack, accepted: list[tuple[str, str]], fraction: float) -> int:
    """Void a share of the attempts, as teachers correct mistakes."""
    rng = random.Random(11)
    chosen = rng.sample(accepted, int(len(accepted) * fraction))
    async with stack.channel("evidence") as channel:
        evidence = evidence_pb2_grpc.EvidenceServiceStub(channel)
        for student, attempt_id in chosen:
            await evidence.VoidAttempt(
                evidence_pb2.VoidAttemptRequest(
                    student_id=student,
                    attempt_id=attempt_id,
                    reason="entered in error",
                    voided_by="bench",
                )
            )
    return len(chosen)


@dataclass(frozen=True)
class Latency:
    offered_rate: float
    sent: int
    received: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    backlog_samples: list[int]
    throughput_in: float
    throughput_out: float
    pairs: int  # student-outcome pairs the run added to the projection


async def end_to_end(stack: Stack, network: Network, rate: float, seconds: float) -> Latency:
    """Attempts at a steady ``rate`` from 200 students across every outcome (each pair sees a
    few attempts, as in a real network, not hundreds); each attempt flips its pair's level
    (1, 2, 1, 2…), so each must produce one MasteryChanged. Latency: accepted → MasteryChanged
    received."""
    assert stack.nats is not None
    nc = await nats.connect(stack.nats.url)
    arrived: dict[str, float] = {}

    async def on_change(msg: Any) -> None:
        _, event = decode(msg.headers, msg.data)
        if isinstance(event, MasteryChangedV1) and event.cause.attempt_id:
            arrived.setdefault(event.cause.attempt_id, time.perf_counter())

    await nc.subscribe(MasteryChangedV1.subscription_subject(), cb=on_change)
    accepted: dict[str, float] = {}
    backlog: list[int] = []
    students = [f"latency-{n:04d}" for n in range(200)]
    flip: dict[tuple[str, str], int] = {}
    async with stack.channel("evidence") as channel:
        evidence = evidence_pb2_grpc.EvidenceServiceStub(channel)
        interval = 1.0 / rate
        started = time.perf_counter()
        tasks = []
        n = 0

        async def send(student: str, outcome: str, score: int) -> None:
            reply = await evidence.RecordAttempt(single(student, outcome, score, datetime.now(UTC)))
            accepted[reply.attempt_id] = time.perf_counter()

        next_sample = started + 1.0
        while (now := time.perf_counter()) - started < seconds:
            student = students[n % len(students)]
            outcome = network.outcomes[(n // len(students)) % len(network.outcomes)]
            pair = (student, outcome)
            flip[pair] = 2 if flip.get(pair) == 1 else 1
            tasks.append(asyncio.create_task(send(student, outcome, flip[pair])))
            n += 1
            if now >= next_sample:
                backlog.append(len(accepted) - sum(1 for a in accepted if a in arrived))
                next_sample += 1.0
            await asyncio.sleep(max(0.0, started + n * interval - time.perf_counter()))
        await asyncio.gather(*tasks)
        sent_elapsed = time.perf_counter() - started
        deadline = time.perf_counter() + 30
        # Polls a dict the subscription callback fills.
        while time.perf_counter() < deadline and any(a not in arrived for a in accepted):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        done_elapsed = time.perf_counter() - started
    await nc.close()
    latencies = [(arrived[a] - t) * 1000 for a, t in accepted.items() if a in arrived]
    return Latency(
        offered_rate=rate,
        sent=len(accepted),
        received=len(latencies),
        p50_ms=percentile(latencies, 0.50),
        p95_ms=percentile(latencies, 0.95),
        p99_ms=percentile(latencies, 0.99),
        backlog_samples=backlog,
        throughput_in=len(accepted) / sent_elapsed,
        throughput_out=len(latencies) / done_elapsed,
        pairs=len(flip),
    )


@dataclass(frozen=True)
class Rebuild:
    """A rebuild into a fresh store: distinct events in the history it replays, wall time with
    and without process start, and memory (from the rebuild's own ``--stats``)."""

    service: str
    events: int
    seconds: float
    replay_seconds: float
    rss_before_mb: float
    rss_after_mb: float
    rss_peak_mb: float
    #: Events the rebuild wrote to its own event store (None: it writes a view, not events).
    stored_events: int | None = None

    @property
    def rate(self) -> float:
        return self.events / self.replay_seconds


async def history_size(stack: Stack, streams: list[str]) -> int:
    """Events in the streams a projection reads (distinct events, not deliveries)."""
    assert stack.nats is not None
    nc = await nats.connect(stack.nats.url)
    js = nc.jetstream()
    try:
        return sum([await last_sequence(js, stream) for stream in streams])
    finally:
        await nc.close()


async def rebuild(stack: Stack, service: str, into: str, streams: list[str]) -> Rebuild:
    """``arc-<service> rebuild`` from the full history into a fresh store."""
    events = await history_size(stack, streams)
    stats = stack.root / f"rebuild-{service}.json"
    process = stack.service(service, f"rebuild --no-compare --into {into} --stats {stats}")
    started = time.perf_counter()
    process.start(wait=False)
    assert process.process is not None
    while process.process.poll() is None:  # noqa: ASYNC110 - a child process, not an event
        await asyncio.sleep(0.1)
    elapsed = time.perf_counter() - started
    if process.process.returncode != 0:
        raise RuntimeError(f"rebuild failed; see {process.log_path}")
    found = json.loads(stats.read_text())
    return Rebuild(
        service,
        events,
        elapsed,
        found["replay_seconds"],
        found["rss_before_mb"],
        found["rss_after_mb"],
        found["rss_peak_mb"],
        found.get("stored_events"),
    )


async def caught_up(stack: Stack, timeout: float = 600) -> float:
    """Seconds until mastery has published for everything recorded (stream ends stop moving)."""
    assert stack.nats is not None
    nc = await nats.connect(stack.nats.url)
    js = nc.jetstream()
    started = time.perf_counter()
    previous = -1
    stable = 0
    while time.perf_counter() - started < timeout:
        current = await last_sequence(js, "mastery")
        stable = stable + 1 if current == previous else 0
        if stable >= 10:
            break
        previous = current
        await asyncio.sleep(0.2)
    await nc.close()
    return time.perf_counter() - started
