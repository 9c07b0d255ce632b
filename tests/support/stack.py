"""The four services as separate processes against one nats-server, with typed clients."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext

from arc.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from arc.evidence.v1 import evidence_pb2, evidence_pb2_grpc
from arc.mastery.v1 import mastery_pb2_grpc
from arc.reporting.v1 import reporting_pb2_grpc
from arc_contracts import stream_name
from arc_platform.auth.client import bearer_interceptors
from arc_platform.auth.dev_issuer import DemoUser, DevIssuerServer
from arc_platform.bus import last_sequence
from arc_platform.devstack import SERVICES, ServiceProcess, free_port, service_env
from arc_platform.partitions import partition_filter, partition_position_key

ONE_TO_FOUR = catalog_pb2.ProficiencyScale(
    name="1-4",
    levels=[
        catalog_pb2.ScaleLevel(value=1, label="Not yet"),
        catalog_pb2.ScaleLevel(value=2, label="Approaching"),
        catalog_pb2.ScaleLevel(value=3, label="Meets"),
        catalog_pb2.ScaleLevel(value=4, label="Exceeds"),
    ],
    mastery_threshold=3,
)


def timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


@dataclass
class Stack:
    nats_url: str
    data_dir: Path
    database_url: str | None = None
    processes: dict[str, ServiceProcess] = field(default_factory=dict)
    #: The development token issuer the services trust (started on first use, in this process).
    issuer: DevIssuerServer | None = None
    _channels: dict[tuple[str, str], grpc.aio.Channel] = field(default_factory=dict)

    def token(self, user: str | DemoUser = "admin") -> str:
        """A bearer token for a demo user (``arc_platform.auth.dev_issuer.DEMO_USERS``)."""
        return self.dev_issuer().issuer.token(user)

    def dev_issuer(self) -> DevIssuerServer:
        if self.issuer is None:
            self.issuer = DevIssuerServer(self.data_dir / "dev-issuer").start()
        return self.issuer

    def service(self, name: str, command: str = "serve", **extra: str) -> ServiceProcess:
        port = self.processes[name].grpc_port if name in self.processes else free_port()
        env = service_env(name, self.nats_url, self.data_dir, port, self.database_url, extra)
        for key, value in self.dev_issuer().service_env().items():
            env.setdefault(key, value)
        env.setdefault("ARC_HTTP_PORT", str(free_port()))
        return ServiceProcess(name, env, command, log_path=self.data_dir / "logs" / f"{name}.log")

    def start(self, *names: str) -> Stack:
        try:
            for name in names or SERVICES:
                self.processes[name] = self.service(name).start()
        except BaseException:
            self.stop()  # never leave half a stack running
            raise
        return self

    def restart(self, name: str) -> None:
        self.processes[name] = self.service(name).start()

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()
        if self.issuer is not None:
            self.issuer.stop()
            self.issuer = None
        self._channels.clear()

    def channel(self, name: str, user: str | DemoUser = "admin") -> grpc.aio.Channel:
        """A channel to a service whose calls carry ``user``'s token (the network admin's by
        default). Kept for the stack's life: a channel with interceptors must outlive its calls."""
        target = f"127.0.0.1:{self.processes[name].grpc_port}"
        key = (target, user if isinstance(user, str) else user.subject)
        cached = self._channels.get(key)
        if cached is None or cached.get_state() == grpc.ChannelConnectivity.SHUTDOWN:
            self._channels[key] = grpc.aio.insecure_channel(
                target, interceptors=bearer_interceptors(self.token(user))
            )
        return self._channels[key]

    def http_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.processes[name].env['ARC_HTTP_PORT']}"

    def catalog(self) -> catalog_pb2_grpc.CatalogServiceStub:
        return catalog_pb2_grpc.CatalogServiceStub(self.channel("catalog"))

    def evidence(self) -> evidence_pb2_grpc.EvidenceServiceStub:
        return evidence_pb2_grpc.EvidenceServiceStub(self.channel("evidence"))

    def mastery(self) -> mastery_pb2_grpc.MasteryServiceStub:
        return mastery_pb2_grpc.MasteryServiceStub(self.channel("mastery"))

    def mastery_of(self, process: str) -> mastery_pb2_grpc.MasteryServiceStub:
        """The mastery API of one named replica."""
        return mastery_pb2_grpc.MasteryServiceStub(self.channel(process))

    def reporting(self) -> reporting_pb2_grpc.ReportingServiceStub:
        return reporting_pb2_grpc.ReportingServiceStub(self.channel("reporting"))


def attempt(
    student_id: str, outcome_id: str, score: float, assessed_at: datetime | None = None
) -> evidence_pb2.RecordAttemptRequest:
    return evidence_pb2.RecordAttemptRequest(
        student_id=student_id,
        outcome_id=outcome_id,
        score=score,
        assessed_at=timestamp(assessed_at or datetime.now(UTC)),
        recorded_by="teacher-ada",
    )


async def eventually(check, timeout: float = 30.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Await an async check until it returns a truthy value (polling, bounded)."""
    deadline = asyncio.get_running_loop().time() + timeout
    last_error: Exception | None = None
    while asyncio.get_running_loop().time() < deadline:
        try:
            result = await check()
            if result:
                return result
        except grpc.aio.AioRpcError as exc:
            last_error = exc
        await asyncio.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}; last error: {last_error}")


async def caught_up(
    positions: dict[str, int], js: JetStreamContext, context: str, partitions: int = 4
) -> bool:
    """True when every partition of ``context`` was applied up to its last message."""
    for partition in range(partitions):
        end = await last_sequence(js, context, partition_filter(context, partition))
        if positions.get(partition_position_key(stream_name(context), partition), 0) < end:
            return False
    return True


def replayed_by_batch(trace_file: Path, stream_word: str) -> int:
    """Checks that a rebuild traced whole batches, never message by message (its trace file,
    ``ARC_TRACE_FILE``), and returns how many messages of the stream named by ``stream_word``
    (e.g. "evidence") its replay spans covered."""
    spans = [json.loads(line) for line in trace_file.read_text().splitlines() if line]
    per_message = [s["name"] for s in spans if s["kind"] == "CONSUMER"]
    assert per_message == [], f"the rebuild traced single messages: {per_message[:3]}"
    replays = [s for s in spans if s["name"].startswith("replay ")]
    assert replays, "the rebuild traced no batch"
    return sum(
        int(s["attributes"]["messaging.batch.message_count"])
        for s in replays
        if stream_word.lower() in s["name"].lower()
    )
