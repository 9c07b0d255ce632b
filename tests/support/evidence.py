"""Helpers for the evidence tests: scales and outcomes, an in-memory catalog for unit tests of
the rules, and publishing catalog events onto a real nats-server for the rest."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import nats
from nats.js import JetStreamContext

from arc_contracts import (
    ContractEvent,
    Envelope,
    OutcomeDefinedV1,
    PersonDefinedV1,
    ProficiencyScaleV1,
    SectionDefinedV1,
    decode,
    encode,
)
from arc_evidence.rules import KnownOutcome, KnownSection, StudentStanding
from arc_platform import bus
from arc_platform.devstack import ServiceProcess

FOUR_LEVELS = ProficiencyScaleV1.model_validate(
    {
        "scale_id": "four-point",
        "revision": 2,
        "name": "Four-point",
        "levels": [
            {"value": 1, "label": "Not yet"},
            {"value": 2, "label": "Approaching"},
            {"value": 3, "label": "Meets"},
            {"value": 4, "label": "Exceeds"},
        ],
        "mastery_threshold": 3,
    }
)
PERCENT = ProficiencyScaleV1.model_validate(
    {
        "scale_id": "percent",
        "name": "Percent",
        "kind": "numeric",
        "minimum": 0,
        "maximum": 100,
        "step": "0.5",
        "mastery_threshold": 80,
    }
)


def outcome_defined(
    outcome_id: str,
    scale: ProficiencyScaleV1 = FOUR_LEVELS,
    revision: int = 1,
    **extra: Any,
) -> OutcomeDefinedV1:
    return OutcomeDefinedV1.model_validate(
        {
            "outcome_id": outcome_id,
            "code": extra.pop("code", outcome_id.upper()),
            "statement": f"I can {outcome_id}",
            "scale": scale,
            "revision": revision,
            **extra,
        }
    )


def student_defined(person_id: str, revision: int = 1, **extra: Any) -> PersonDefinedV1:
    values = {"role": "student", "given_name": "Sam", "family_name": person_id} | extra
    return PersonDefinedV1.model_validate({"person_id": person_id, "revision": revision, **values})


def section_defined(
    section_id: str, students: Iterable[str], revision: int = 1, teachers: Iterable[str] = ()
) -> SectionDefinedV1:
    return SectionDefinedV1(
        section_id=section_id,
        revision=revision,
        course_id="math-6",
        title=f"Section {section_id}",
        student_ids=tuple(students),
        teacher_ids=tuple(teachers),
    )


@dataclass
class FakeCatalog:
    """The catalog as evidence would know it, in memory: for unit tests of pure rules only."""

    outcomes: dict[str, KnownOutcome] = field(default_factory=dict)
    people: dict[str, tuple[str, bool]] = field(default_factory=dict)  # role, active
    sections: dict[str, KnownSection] = field(default_factory=dict)

    def define(
        self, outcome_id: str, scale: ProficiencyScaleV1 = FOUR_LEVELS, **extra: Any
    ) -> None:
        self.outcomes[outcome_id] = KnownOutcome(
            outcome_id, extra.pop("revision", 1), scale, code=outcome_id.upper(), **extra
        )

    def outcome(self, outcome_id: str) -> KnownOutcome | None:
        return self.outcomes.get(outcome_id)

    def outcome_by_code(self, code: str) -> KnownOutcome | None:
        found = [o for o in self.outcomes.values() if o.code.lower() == code.strip().lower()]
        return found[0] if len(found) == 1 else None

    def outcomes_aligned_to(self, uri: str) -> list[KnownOutcome]:
        return [o for o in self.outcomes.values() if o.case_uri == uri]

    def student(self, student_id: str) -> StudentStanding:
        if student_id in self.people:
            role, active = self.people[student_id]
            if role != "student":
                return "not_a_student"
            return "student" if active else "inactive"
        if any(student_id in s.student_ids for s in self.sections.values()):
            return "student"
        return "unknown"

    def section(self, section_id: str) -> KnownSection | None:
        return self.sections.get(section_id)


async def publish(nats_url: str, *events: ContractEvent) -> None:
    """Publish catalog events as the catalog's relay would (CloudEvents headers, msg id)."""
    nc = await nats.connect(nats_url)
    try:
        js: JetStreamContext = nc.jetstream()
        await bus.ensure_stream(js, "catalog", 3600)
        for event in events:
            envelope = Envelope(
                id=str(uuid.uuid4()),
                source="/arc/catalog",
                type=event.event_type(),
                time=datetime.now(UTC),
            )
            subject, body, headers = encode(event, envelope)
            await js.publish(subject, body, headers=headers, stream="ARC_CATALOG")
    finally:
        await nc.close()


async def wait_for_http(base_url: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient(base_url=base_url) as client:
        while True:
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{base_url} never answered /healthz")
            await asyncio.sleep(0.05)


def decimal(value: str | int) -> Decimal:
    return Decimal(str(value))


async def define_catalog(
    nats_url: str, evidence_http: str, *events: ContractEvent, token: str
) -> None:
    """Publish catalog events and wait until evidence's catalog view, and the relationships
    view its access rules read, have read them all (``token``: an admin's or an auditor's)."""
    await publish(nats_url, *events)
    nc = await nats.connect(nats_url)
    try:
        end = await bus.last_sequence(nc.jetstream(), "catalog")
    finally:
        await nc.close()
    deadline = asyncio.get_running_loop().time() + 30
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=evidence_http, headers=headers) as client:
        while True:
            positions = (await client.get("/api/v1/catalog-view")).json()["positions"]
            views = ("ARC_CATALOG", "relationships:ARC_CATALOG")
            if all(positions.get(view, 0) >= end for view in views):
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"evidence's catalog view stayed at {positions}, not {end}")
            await asyncio.sleep(0.05)


async def published_evidence(nats_url: str, count: int, timeout: float = 30) -> list[ContractEvent]:
    """The first ``count`` events on the evidence stream, decoded (waits for them)."""
    nc = await nats.connect(nats_url)
    found: list[ContractEvent] = []
    try:
        subscription = await nc.jetstream().subscribe("arc.evidence.>", ordered_consumer=True)
        while len(found) < count:
            msg = await subscription.next_msg(timeout=timeout)
            found.append(decode(msg.headers, msg.data)[1])
        await subscription.unsubscribe()
    finally:
        await nc.close()
    return found


async def evidence_stream_length(nats_url: str) -> int:
    nc = await nats.connect(nats_url)
    try:
        return await bus.last_sequence(nc.jetstream(), "evidence")
    finally:
        await nc.close()


def http_url(processes: Mapping[str, ServiceProcess], name: str = "evidence") -> str:
    """The HTTP address of a service the stack started (always on a free port)."""
    return f"http://127.0.0.1:{processes[name].env['ARC_HTTP_PORT']}"
