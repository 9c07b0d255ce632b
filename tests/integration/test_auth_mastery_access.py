"""Every role against every mastery endpoint, over gRPC and HTTP, on the real service.

The catalog (published on the real stream) says: section sec-1 of school sch-A is taught by
teacher-demo and has student stu-001, whose guardian is guardian-001 and whose school is led
by leader-demo; sec-2 of sch-B (teacher-002, student stu-002, guardian-002, leader-002) is
another class. stu-001 has evidence on math.1 (child of math, in course c1).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute
from google.protobuf.message import Message

from arc.mastery.v1 import mastery_pb2, mastery_pb2_grpc
from arc_contracts import (
    AttemptRecordedV1,
    ContractEvent,
    CourseDefinedV1,
    CourseOutcomeV1,
    Envelope,
    PersonDefinedV1,
    SectionDefinedV1,
    encode,
)
from arc_mastery.grpc_api import ACCESS_RULES as GRPC_RULES
from arc_mastery.http_api import ACCESS_RULES as HTTP_RULES
from arc_mastery.http_api import create_app
from arc_platform import bus
from arc_platform.auth import Access, AccessGuard, AccessLog, RelationshipsView, Role
from arc_platform.auth.dev_issuer import DEMO_USERS, DemoUser
from arc_platform.auth.tokens import TokenSettings, TokenVerifier
from tests.support.callers import other
from tests.support.evidence import FOUR_LEVELS, outcome_defined, wait_for_http
from tests.support.stack import Stack, eventually

STUDENT = DEMO_USERS["student"].subject  # stu-001
OTHER_STUDENT = "stu-002"


def person(person_id: str, role: str, **extra: Any) -> PersonDefinedV1:
    return PersonDefinedV1.model_validate(
        {
            "person_id": person_id,
            "revision": 1,
            "role": role,
            "given_name": "A",
            "family_name": person_id,
        }
        | extra
    )


def section(section_id: str, school: str, teacher: str, student: str) -> SectionDefinedV1:
    return SectionDefinedV1(
        section_id=section_id,
        revision=1,
        course_id="c1",
        school_id=school,
        title=section_id,
        teacher_ids=(teacher,),
        student_ids=(student,),
    )


CATALOG: list[ContractEvent] = [
    outcome_defined("math"),
    outcome_defined("math.1", parent_id="math"),
    CourseDefinedV1(
        course_id="c1", revision=1, title="Math 6", outcomes=(CourseOutcomeV1(outcome_id="math.1"),)
    ),
    section("sec-1", "sch-A", "teacher-demo", STUDENT),
    section("sec-2", "sch-B", "teacher-002", OTHER_STUDENT),
    person(STUDENT, "student", school_ids=("sch-A",)),
    person(OTHER_STUDENT, "student", school_ids=("sch-B",)),
    person("teacher-demo", "teacher"),
    person("teacher-002", "teacher"),
    person("guardian-001", "guardian", guardian_of=(STUDENT,)),
    person("guardian-002", "guardian", guardian_of=(OTHER_STUDENT,)),
    person("leader-demo", "administrator", school_ids=("sch-A",)),
    person("leader-002", "administrator", school_ids=("sch-B",)),
]


#: caller → may they read stu-001's records? may they read operations and the access log?
CALLERS: dict[str, tuple[str | DemoUser, bool, bool]] = {
    "the student herself": ("student", True, False),
    "another student": (other(OTHER_STUDENT, Role.STUDENT), False, False),
    "her guardian": ("guardian", True, False),
    "another student's guardian": (other("guardian-002", Role.GUARDIAN), False, False),
    "her teacher": ("teacher", True, False),
    "a teacher of another section": (other("teacher-002", Role.TEACHER), False, False),
    "her school's leader": ("leader", True, False),
    "another school's leader": (other("leader-002", Role.LEADER), False, False),
    "a network admin": ("admin", True, True),
    "an auditor": ("auditor", True, True),
    "an integrator": ("integrator", False, False),
}

GrpcCall = Callable[[mastery_pb2_grpc.MasteryServiceStub], Awaitable[Message]]
GRPC_ENDPOINTS: dict[str, tuple[GrpcCall, bool]] = {  # name → call, about the student?
    "GetMastery": (
        lambda s: s.GetMastery(
            mastery_pb2.GetMasteryRequest(student_id=STUDENT, outcome_id="math.1")
        ),
        True,
    ),
    "Explain": (
        lambda s: s.Explain(mastery_pb2.ExplainRequest(student_id=STUDENT, outcome_id="math.1")),
        True,
    ),
    "GetCourseMastery": (
        lambda s: s.GetCourseMastery(mastery_pb2.RollUpRequest(student_id=STUDENT, course_id="c1")),
        True,
    ),
    "GetParentMastery": (
        lambda s: s.GetParentMastery(
            mastery_pb2.RollUpRequest(student_id=STUDENT, outcome_id="math")
        ),
        True,
    ),
    "GetProjectionStatus": (
        lambda s: s.GetProjectionStatus(mastery_pb2.ProjectionStatusRequest()),
        False,
    ),
}
HTTP_ENDPOINTS: dict[str, tuple[str, bool]] = {
    "explanation": (f"/api/v1/students/{STUDENT}/outcomes/math.1/explanation", True),
    "course roll-up": (f"/api/v1/students/{STUDENT}/courses/c1", True),
    "parent roll-up": (f"/api/v1/students/{STUDENT}/outcomes/math/children", True),
    "access log": ("/api/v1/audit/access-log", False),
}


async def publish(nats_url: str, context: str, *events: ContractEvent) -> None:
    nc = await bus.connect(nats_url, "test-publisher")
    try:
        js = nc.jetstream()
        await bus.ensure_stream(js, context, 3600)
        for event in events:
            envelope = Envelope(
                str(uuid.uuid4()), f"/arc/{context}", event.event_type(), datetime.now(UTC)
            )
            subject, body, headers = encode(event, envelope, 4)
            await js.publish(subject, body, headers=headers, stream=f"ARC_{context.upper()}")
    finally:
        await nc.close()


def attempt(student: str) -> AttemptRecordedV1:
    now = datetime.now(UTC)
    return AttemptRecordedV1(
        attempt_id=f"att-{uuid.uuid4().hex[:8]}",
        student_id=student,
        outcome_id="math.1",
        outcome_revision=1,
        scale=FOUR_LEVELS,
        score=Decimal(3),
        assessed_at=now,
        recorded_at=now,
        recorded_by="teacher-demo",
    )


@pytest.fixture
def stack(nats_url: str, tmp_path: Path) -> Iterator[Stack]:
    running = Stack(nats_url, tmp_path / "data")
    running.start("mastery")
    yield running
    running.stop()


async def ready(stack: Stack, nats_url: str) -> None:
    """The catalog and evidence are in, and the teacher's relationship is known."""
    await publish(nats_url, "catalog", *CATALOG)
    await publish(nats_url, "evidence", attempt(STUDENT), attempt(OTHER_STUDENT))
    teacher = mastery_pb2_grpc.MasteryServiceStub(stack.channel("mastery", "teacher"))

    async def teacher_sees_evidence() -> bool:
        reply = await teacher.GetMastery(
            mastery_pb2.GetMasteryRequest(student_id=STUDENT, outcome_id="math.1")
        )
        return bool(reply.attempt_ids)

    await eventually(teacher_sees_evidence, what="mastery to learn the catalog and evidence")
    await wait_for_http(stack.http_url("mastery"))


async def grpc_code(stack: Stack, user: str | DemoUser | None, call: GrpcCall) -> grpc.StatusCode:
    """The status of ``call`` made as ``user`` (None: without a token)."""
    anonymous = grpc.aio.insecure_channel(f"127.0.0.1:{stack.processes['mastery'].grpc_port}")
    channel = stack.channel("mastery", user) if user is not None else anonymous
    try:
        await call(mastery_pb2_grpc.MasteryServiceStub(channel))
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    finally:
        await anonymous.close()
    return grpc.StatusCode.OK


async def test_every_role_against_every_mastery_endpoint(stack: Stack, nats_url: str) -> None:
    await ready(stack, nats_url)
    wrong: list[str] = []
    async with httpx.AsyncClient(base_url=stack.http_url("mastery")) as http:
        for caller, (user, reads_student, reads_operations) in CALLERS.items():
            headers = {"Authorization": f"Bearer {stack.token(user)}"}
            for name, (call, about_student) in GRPC_ENDPOINTS.items():
                allowed = reads_student if about_student else reads_operations
                want = grpc.StatusCode.OK if allowed else grpc.StatusCode.PERMISSION_DENIED
                got = await grpc_code(stack, user, call)
                if got != want:
                    wrong.append(f"gRPC {name} by {caller}: {got.name}, expected {want.name}")
            for name, (path, about_student) in HTTP_ENDPOINTS.items():
                allowed = reads_student if about_student else reads_operations
                status = (await http.get(path, headers=headers)).status_code
                if status != (200 if allowed else 403):
                    wrong.append(f"HTTP {name} by {caller}: {status}")
    assert wrong == []


async def test_no_token_or_a_bad_token_is_unauthenticated_and_health_stays_open(
    stack: Stack, nats_url: str
) -> None:
    await ready(stack, nats_url)
    for name, (call, _) in GRPC_ENDPOINTS.items():
        assert await grpc_code(stack, None, call) == grpc.StatusCode.UNAUTHENTICATED, name
    forged = stack.token("student")[:-4] + "AAAA"
    async with httpx.AsyncClient(base_url=stack.http_url("mastery")) as http:
        for name, (path, _) in HTTP_ENDPOINTS.items():
            for headers in (
                {},
                {"Authorization": f"Bearer {forged}"},
                {"Authorization": "Basic dXNlcjpwdw=="},
            ):
                reply = await http.get(path, headers=headers)
                assert reply.status_code == 401, (name, headers)
                assert reply.headers["www-authenticate"].startswith("Bearer")
        assert (await http.get("/healthz")).status_code == 200


async def test_a_refusal_does_not_reveal_whether_the_student_exists(
    stack: Stack, nats_url: str
) -> None:
    await ready(stack, nats_url)
    outsider = other("teacher-002", Role.TEACHER)
    answers = set()
    client = mastery_pb2_grpc.MasteryServiceStub(stack.channel("mastery", outsider))
    for student in (STUDENT, "stu-404-nobody"):
        try:
            await client.Explain(
                mastery_pb2.ExplainRequest(student_id=student, outcome_id="math.1")
            )
        except grpc.aio.AioRpcError as exc:
            answers.add((exc.code(), exc.details(), exc.trailing_metadata() or ()))
    assert answers == {(grpc.StatusCode.PERMISSION_DENIED, "permission denied", ())}
    async with httpx.AsyncClient(base_url=stack.http_url("mastery")) as http:
        headers = {"Authorization": f"Bearer {stack.token(outsider)}"}
        bodies = {
            (r.status_code, r.text)
            for student in (STUDENT, "stu-404-nobody")
            for r in [
                await http.get(
                    f"/api/v1/students/{student}/outcomes/math.1/explanation", headers=headers
                )
            ]
        }
    assert bodies == {(403, '{"detail":"permission denied"}')}


async def test_auditors_see_who_read_which_students_records(stack: Stack, nats_url: str) -> None:
    await ready(stack, nats_url)
    guardian = mastery_pb2_grpc.MasteryServiceStub(stack.channel("mastery", "guardian"))
    await guardian.Explain(mastery_pb2.ExplainRequest(student_id=STUDENT, outcome_id="math.1"))
    await grpc_code(stack, other("teacher-002", Role.TEACHER), GRPC_ENDPOINTS["GetMastery"][0])
    async with httpx.AsyncClient(base_url=stack.http_url("mastery")) as http:
        headers = {"Authorization": f"Bearer {stack.token('auditor')}"}
        reply = await http.get(
            "/api/v1/audit/access-log", params={"student_id": STUDENT}, headers=headers
        )
        assert reply.status_code == 200
        entries = reply.json()["entries"]
        bad = await http.get(
            "/api/v1/audit/access-log", params={"since": "2026-01-01T00:00"}, headers=headers
        )
        assert bad.status_code == 422 and "since" in bad.text
    by_guardian = [e for e in entries if e["subject"] == "guardian-001"]
    assert by_guardian[0] | {"at": None, "client_address": None} == {
        "at": None,
        "subject": "guardian-001",
        "roles": ["guardian"],
        "client_id": "arc-dev",
        "client_address": None,
        "transport": "grpc",
        "endpoint": "/arc.mastery.v1.MasteryService/Explain",
        "action": "read_student",
        "student_id": STUDENT,
        "allowed": True,
        "reason": "guardian: a guardian reads the records of their students",
    }
    assert "127.0.0.1" in by_guardian[0]["client_address"]
    refused = [e for e in entries if e["subject"] == "teacher-002"]
    assert refused and not refused[0]["allowed"]
    assert {e["student_id"] for e in entries} == {STUDENT}


def test_every_mastery_endpoint_has_an_access_rule(tmp_path: Path) -> None:
    """A method or route without a rule is refused at run time; this keeps the tables whole."""
    methods = mastery_pb2.DESCRIPTOR.services_by_name["MasteryService"].methods
    assert set(GRPC_RULES) == {f"/arc.mastery.v1.MasteryService/{m.name}" for m in methods}
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'views.sqlite'}")
    verifier = TokenVerifier(TokenSettings(issuer="https://id.example", audience="arc"))
    guard = AccessGuard(verifier, RelationshipsView(engine), AccessLog(engine))
    app = create_app(None, Access(guard, RelationshipsView(engine), AccessLog(engine)))  # type: ignore[arg-type]
    routes = {
        f"{method} {route.path}"
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    assert routes == set(HTTP_RULES)
