"""Every role against every evidence endpoint, over gRPC and HTTP (JSON API, gradebook CSV and
xAPI), on the real service.

The catalog (published on the real stream) says: section sec-1 of school sch-A is taught by
teacher-demo and has stu-001 and stu-003; stu-001's guardian is guardian-001 and her school is
led by leader-demo; sec-2 of sch-B (teacher-002, stu-002, guardian-002, leader-002) is another
class. Evidence is entered by a student's teachers (in sections they teach) and network
admins; a student's attempts are read like her other records; xAPI statements come from tools.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import sqlalchemy as sa
from google.protobuf.message import Message

from arc.evidence.v1 import evidence_pb2 as pb
from arc.evidence.v1 import evidence_pb2_grpc
from arc_contracts import AttemptRecordedV1, PersonDefinedV1, SectionDefinedV1
from arc_evidence.__main__ import EvidenceSettings, open_store
from arc_evidence.domain import StudentEvidence
from arc_evidence.grpc_api import ACCESS_RULES as GRPC_RULES
from arc_evidence.grpc_api import EvidenceServicer
from arc_evidence.http_api import ACCESS_RULES as HTTP_RULES
from arc_evidence.http_api import create_app
from arc_platform.auth import Access, AccessGuard, AccessLog, RelationshipsView, Role
from arc_platform.auth.client import bearer_interceptors
from arc_platform.auth.dev_issuer import DemoUser, DevIssuerServer
from arc_platform.auth.tokens import TokenSettings, TokenVerifier
from arc_platform.grpc_server import field_violations, start_server
from arc_platform.views import create_engine
from tests.support.callers import CALLERS, CLASSMATE, OTHER_STUDENT, STUDENT, other
from tests.support.evidence import (
    PERCENT,
    define_catalog,
    outcome_defined,
    published_evidence,
    wait_for_http,
)
from tests.support.stack import Stack, timestamp

QUIZ = "https://quiz.example/activities/fractions-1"
XAPI = {"X-Experience-API-Version": "1.0.3"}
YESTERDAY = datetime.now(UTC) - timedelta(days=1)
Stub = evidence_pb2_grpc.EvidenceServiceStub


def person(person_id: str, role: str, **extra: Any) -> PersonDefinedV1:
    return PersonDefinedV1.model_validate(
        {"person_id": person_id, "revision": 1, "role": role, "given_name": "A"}
        | {"family_name": person_id}
        | extra
    )


def section(section_id: str, school: str, teacher: str, *students: str) -> SectionDefinedV1:
    return SectionDefinedV1(
        section_id=section_id,
        revision=1,
        course_id="c1",
        school_id=school,
        title=section_id,
        teacher_ids=(teacher,),
        student_ids=students,
    )


CATALOG = [
    outcome_defined("math.1"),
    outcome_defined("math.quiz", PERCENT, case_uri=QUIZ),
    section("sec-1", "sch-A", "teacher-demo", STUDENT, CLASSMATE),
    section("sec-2", "sch-B", "teacher-002", OTHER_STUDENT),
    person(STUDENT, "student", school_ids=("sch-A",)),
    person(CLASSMATE, "student", school_ids=("sch-A",)),
    person(OTHER_STUDENT, "student", school_ids=("sch-B",)),
    person("teacher-demo", "teacher"),
    person("teacher-002", "teacher"),
    person("guardian-001", "guardian", guardian_of=(STUDENT,)),
    person("guardian-002", "guardian", guardian_of=(OTHER_STUDENT,)),
    person("leader-demo", "administrator", school_ids=("sch-A",)),
    person("leader-002", "administrator", school_ids=("sch-B",)),
]


#: kind of endpoint → who may call it
MAY: dict[str, set[str]] = {
    "read stu-001": {
        "the student herself",
        "her guardian",
        "her teacher",
        "her school's leader",
        "a network admin",
        "an auditor",
    },
    "record for stu-001": {"her teacher", "a network admin"},
    "record in sec-1": {"her teacher", "a network admin"},
    "operations": {"a network admin", "an auditor"},
    "send statements": {"an xAPI tool", "a network admin"},
    "read statements": {"an xAPI tool", "a network admin", "an auditor"},
    "open": set(CALLERS),
}
WRITES = {"record for stu-001", "record in sec-1", "send statements"}
#: Attempts the world starts with: two for the admin, one from the tool's statement.
WORLD_EVENTS = 3


def score(student: str, value: int = 3) -> pb.RecordAttemptRequest:
    return pb.RecordAttemptRequest(
        student_id=student, outcome_id="math.1", score=value, assessed_at=timestamp(YESTERDAY)
    )


def class_batch(section_id: str, *students: str, recorded_by: str = "") -> pb.RecordBatchRequest:
    return pb.RecordBatchRequest(
        recorded_by=recorded_by,
        section_id=section_id,
        assessed_at=timestamp(YESTERDAY),
        assessment_ref="quiz-1",
        rows=[
            pb.BatchRow(student_id=s, scores=[pb.OutcomeScore(outcome_id="math.1", score="3")])
            for s in students
        ],
    )


def statement(student: str, raw: float = 80) -> dict[str, Any]:
    return {
        "actor": {"account": {"homePage": "https://sis.example", "name": student}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/scored"},
        "object": {"id": QUIZ},
        "result": {"score": {"raw": raw, "min": 0, "max": 100}},
        "timestamp": "2026-01-15T10:00:00Z",
    }


class World:
    """What the endpoints act on: attempts to void and correct, a stored statement."""

    def __init__(self) -> None:
        self.to_void = ""
        self.to_correct = ""
        self.statement_id = str(uuid.uuid4())


GrpcCall = Callable[[Stub, World], Awaitable[Message]]
GRPC_ENDPOINTS: dict[str, tuple[GrpcCall, str]] = {
    "RecordAttempt": (lambda s, w: s.RecordAttempt(score(STUDENT)), "record for stu-001"),
    "RecordBatch": (
        lambda s, w: s.RecordBatch(class_batch("sec-1", STUDENT, CLASSMATE)),
        "record in sec-1",
    ),
    "VoidAttempt": (
        lambda s, w: s.VoidAttempt(
            pb.VoidAttemptRequest(student_id=STUDENT, attempt_id=w.to_void, reason="duplicate")
        ),
        "record for stu-001",
    ),
    "SupersedeAttempt": (
        lambda s, w: s.SupersedeAttempt(
            pb.SupersedeAttemptRequest(
                student_id=STUDENT, attempt_id=w.to_correct, reason="typo", score="4"
            )
        ),
        "record for stu-001",
    ),
    "ListAttempts": (
        lambda s, w: s.ListAttempts(pb.ListAttemptsRequest(student_id=STUDENT)),
        "read stu-001",
    ),
}
GRADEBOOK = f"student_id,math.1\n{STUDENT},3\n{CLASSMATE},EX\n"
STUDENT_PATH = "/api/v1/students/{student_id}"
#: (method, route template, path parameters, request arguments, kind)
HttpCall = tuple[str, str, dict[str, str], Callable[[World], dict[str, Any]], str]
HTTP_ENDPOINTS: list[HttpCall] = [
    ("GET", "/api/v1/catalog-view", {}, lambda w: {}, "operations"),
    (
        "POST",
        "/api/v1/attempts",
        {},
        lambda w: {
            "json": {
                "student_id": STUDENT,
                "assessed_at": YESTERDAY.isoformat(),
                "scores": [{"outcome_id": "math.1", "score": 2}],
            }
        },
        "record for stu-001",
    ),
    (
        "POST",
        "/api/v1/attempts/batch",
        {},
        lambda w: {
            "json": {
                "section_id": "sec-1",
                "assessed_at": YESTERDAY.isoformat(),
                "rows": [
                    {"student_id": s, "scores": [{"outcome_id": "math.1", "score": 2}]}
                    for s in (STUDENT, CLASSMATE)
                ],
            }
        },
        "record in sec-1",
    ),
    (
        "POST",
        STUDENT_PATH + "/attempts/{attempt_id}/void",
        {"student_id": STUDENT, "attempt_id": "to_void"},
        lambda w: {"json": {"reason": "duplicate"}},
        "record for stu-001",
    ),
    (
        "POST",
        STUDENT_PATH + "/attempts/{attempt_id}/supersede",
        {"student_id": STUDENT, "attempt_id": "to_correct"},
        lambda w: {"json": {"reason": "typo", "score": 4}},
        "record for stu-001",
    ),
    ("GET", STUDENT_PATH + "/attempts", {"student_id": STUDENT}, lambda w: {}, "read stu-001"),
    (
        "POST",
        "/api/v1/imports/gradebook",
        {},
        lambda w: {
            "content": GRADEBOOK,
            "params": {
                "section_id": "sec-1",
                "dry_run": "true",
                "assessed_at": YESTERDAY.isoformat(),
            },
            "headers": {"Content-Type": "text/csv"},
        },
        "record in sec-1",
    ),
    ("GET", "/api/v1/xapi/unmapped", {}, lambda w: {}, "read statements"),
    (
        "POST",
        "/api/v1/xapi/unmapped/{statement_id}/retry",
        {"statement_id": "statement_id"},
        lambda w: {},
        "send statements",
    ),
    ("GET", "/xapi/about", {}, lambda w: {}, "open"),
    (
        "PUT",
        "/xapi/statements",
        {},
        lambda w: {
            "params": {"statementId": str(uuid.uuid4())},
            "json": statement(STUDENT),
            "headers": XAPI,
        },
        "send statements",
    ),
    (
        "POST",
        "/xapi/statements",
        {},
        lambda w: {"json": statement(STUDENT), "headers": XAPI},
        "send statements",
    ),
    (
        "GET",
        "/xapi/statements",
        {},
        lambda w: {"params": {"statementId": w.statement_id}, "headers": XAPI},
        "read statements",
    ),
]


def bearer(stack: Stack, user: str | DemoUser) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.token(user)}"}


@pytest.fixture
def stack(nats_url: str, tmp_path: Path) -> Iterator[Stack]:
    running = Stack(nats_url, tmp_path / "data").start("evidence")
    yield running
    running.stop()


@pytest.fixture
async def world(stack: Stack, nats_url: str) -> AsyncIterator[World]:
    """The catalog is known (to evidence's catalog and relationships views); stu-001 has two
    attempts to void and correct; a tool sent one statement about her."""
    await wait_for_http(stack.http_url("evidence"))
    await define_catalog(nats_url, stack.http_url("evidence"), *CATALOG, token=stack.token())
    made = World()
    admin = Stub(stack.channel("evidence"))
    made.to_void = (await admin.RecordAttempt(score(STUDENT, 1))).attempt_id
    made.to_correct = (await admin.RecordAttempt(score(STUDENT, 2))).attempt_id
    async with httpx.AsyncClient(base_url=stack.http_url("evidence")) as http:
        sent = await http.put(
            "/xapi/statements",
            params={"statementId": made.statement_id},
            json=statement(STUDENT, 90),
            headers=XAPI | bearer(stack, "tool"),
        )
        assert sent.status_code == 204, sent.text
    await published_evidence(nats_url, WORLD_EVENTS)  # all on the bus: counts start from here
    yield made


async def grpc_code(
    stack: Stack, user: str | DemoUser | None, call: Callable[[Stub], Awaitable[Any]]
) -> grpc.StatusCode:
    """The status of ``call`` made as ``user`` (None: without a token)."""
    anonymous = grpc.aio.insecure_channel(f"127.0.0.1:{stack.processes['evidence'].grpc_port}")
    channel = stack.channel("evidence", user) if user is not None else anonymous
    try:
        await call(Stub(channel))
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    finally:
        await anonymous.close()
    return grpc.StatusCode.OK


async def http_status(
    http: httpx.AsyncClient, endpoint: HttpCall, world: World, headers: dict[str, str]
) -> int:
    method, template, params, arguments, _ = endpoint
    path = template.format(**{k: getattr(world, v, v) for k, v in params.items()})
    extra = arguments(world)
    reply = await http.request(
        method, path, **{**extra, "headers": {**extra.get("headers", {}), **headers}}
    )
    return reply.status_code


def wrong_answer(allowed: bool, kind: str, code: grpc.StatusCode | int) -> str | None:
    """A read allowed must succeed; a write allowed must get past the guard (evidence's own
    rules may still refuse it, e.g. voiding an attempt already voided); a refusal is
    PERMISSION_DENIED / 403."""
    denied = code in (grpc.StatusCode.PERMISSION_DENIED, 403)
    if not allowed:
        return None if denied else "expected a refusal"
    if denied or code in (grpc.StatusCode.UNAUTHENTICATED, 401):
        return "expected to be allowed"
    if kind not in WRITES and code not in (grpc.StatusCode.OK, 200):
        return "expected the read to succeed"
    return None


async def test_every_role_against_every_evidence_endpoint(stack: Stack, world: World) -> None:
    wrong: list[str] = []
    async with httpx.AsyncClient(base_url=stack.http_url("evidence"), timeout=30) as http:
        for caller, user in CALLERS.items():
            for name, (call, kind) in GRPC_ENDPOINTS.items():
                code = await grpc_code(stack, user, lambda s, c=call: c(s, world))  # type: ignore[misc]
                problem = wrong_answer(caller in MAY[kind], kind, code)
                if problem:
                    wrong.append(f"gRPC {name} by {caller}: {code.name}, {problem}")
            for endpoint in HTTP_ENDPOINTS:
                status = await http_status(http, endpoint, world, bearer(stack, user))
                kind = endpoint[4]
                problem = wrong_answer(caller in MAY[kind], kind, status)
                if problem:
                    wrong.append(
                        f"HTTP {endpoint[0]} {endpoint[1]} by {caller}: {status}, {problem}"
                    )
    assert wrong == []


async def test_no_token_is_unauthenticated_and_health_stays_open(
    stack: Stack, world: World
) -> None:
    for name, (call, _) in GRPC_ENDPOINTS.items():
        code = await grpc_code(stack, None, lambda s, c=call: c(s, world))  # type: ignore[misc]
        assert code == grpc.StatusCode.UNAUTHENTICATED, name
    forged = stack.token("admin")[:-4] + "AAAA"
    async with httpx.AsyncClient(base_url=stack.http_url("evidence"), timeout=30) as http:
        for endpoint in HTTP_ENDPOINTS:
            if endpoint[4] == "open":
                continue
            for headers in ({}, {"Authorization": f"Bearer {forged}"}):
                status = await http_status(http, endpoint, world, headers)
                assert status == 401, endpoint[:2]
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/xapi/about")).json() == {"version": ["1.0.3"]}


async def test_a_refusal_does_not_reveal_whether_the_student_exists(
    stack: Stack, world: World
) -> None:
    outsider = Stub(stack.channel("evidence", other("teacher-002", Role.TEACHER)))
    answers = set()
    for student in (STUDENT, "stu-404-nobody"):
        for call in (
            outsider.ListAttempts(pb.ListAttemptsRequest(student_id=student)),
            outsider.RecordAttempt(score(student)),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call
            answers.add((refused.value.code(), refused.value.details()))
    assert answers == {(grpc.StatusCode.PERMISSION_DENIED, "permission denied")}
    headers = bearer(stack, other("teacher-002", Role.TEACHER))
    async with httpx.AsyncClient(base_url=stack.http_url("evidence"), headers=headers) as http:
        bodies = {
            ((r := await http.get(f"/api/v1/students/{s}/attempts")).status_code, r.text)
            for s in (STUDENT, "stu-404-nobody")
        }
    assert bodies == {(403, '{"detail":"permission denied"}')}


async def test_a_teacher_enters_evidence_only_for_students_of_sections_they_teach(
    stack: Stack, world: World, nats_url: str
) -> None:
    teacher = Stub(stack.channel("evidence", "teacher"))
    before = WORLD_EVENTS
    for request in (
        class_batch("sec-1", STUDENT, OTHER_STUDENT),  # one row is not hers
        class_batch("sec-2", OTHER_STUDENT),  # not her section
        class_batch("sec-2", STUDENT),  # she is not in sec-2, which is not hers either
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await teacher.RecordBatch(request)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    reply = await teacher.RecordBatch(class_batch("sec-1", STUDENT, CLASSMATE))
    assert [row.student_id for row in reply.rows] == [STUDENT, CLASSMATE]

    csv = {"Content-Type": "text/csv"} | bearer(stack, "teacher")
    async with httpx.AsyncClient(base_url=stack.http_url("evidence"), headers=csv) as http:
        theirs = f"student_id,math.1\n{STUDENT},3\n{OTHER_STUDENT},4\n"
        refused_csv = await http.post("/api/v1/imports/gradebook", content=theirs)
        assert refused_csv.status_code == 403
        headless = await http.post("/api/v1/imports/gradebook", content="pupil,math.1\nx,3\n")
        assert headless.status_code == 400  # told what is wrong: nothing to refuse yet
        assert "a student_id column is required" in headless.text
        recorded = await http.post(
            "/api/v1/imports/gradebook",
            content=GRADEBOOK,
            params={"section_id": "sec-1", "assessed_at": YESTERDAY.isoformat()},
        )
        assert recorded.status_code == 201, recorded.text
        unnamed = await http.post(
            "/api/v1/attempts",
            json={"scores": [{"outcome_id": "math.1", "score": 3}]},
            headers={"Content-Type": "application/json"},
        )
        assert unnamed.status_code == 400  # bad input is named before access is decided
        assert [v["field"] for v in unnamed.json()["violations"]] == ["student_id"]
    events = await published_evidence(nats_url, before + 4)
    assert {e.student_id for e in events[before:] if isinstance(e, AttemptRecordedV1)} == {
        STUDENT,
        CLASSMATE,
    }
    log = AccessLog(create_engine(EvidenceSettings(data_dir=stack.data_dir)))
    refused_rows = [
        (e.student_id, e.allowed, e.reason.startswith("refused for another student"))
        for e in reversed(log.entries(subject="teacher-demo", limit=1000))
        if e.transport == "grpc"
    ][:3]
    assert refused_rows == [
        (STUDENT, False, True),
        (OTHER_STUDENT, False, False),
        (OTHER_STUDENT, False, False),
    ]


async def test_the_recorder_is_the_caller_unless_an_admin_records_for_someone(
    stack: Stack, world: World, nats_url: str
) -> None:
    before = WORLD_EVENTS
    teacher = Stub(stack.channel("evidence", "teacher"))
    await teacher.RecordAttempt(score(STUDENT))  # recorded_by left empty: the caller
    posing = score(STUDENT)
    posing.recorded_by = "teacher-002"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await teacher.RecordAttempt(posing)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert [f for f, _ in field_violations(refused.value)] == ["recorded_by"]
    async with httpx.AsyncClient(base_url=stack.http_url("evidence")) as http:
        body = {
            "student_id": STUDENT,
            "assessed_at": YESTERDAY.isoformat(),
            "recorded_by": "teacher-002",
            "scores": [{"outcome_id": "math.1", "score": 3}],
        }
        refused_http = await http.post(
            "/api/v1/attempts", json=body, headers=bearer(stack, "teacher")
        )
        assert refused_http.status_code == 403
        assert [v["field"] for v in refused_http.json()["violations"]] == ["recorded_by"]
        on_behalf = await http.post(
            "/api/v1/attempts", json=body | {"recorded_by": "t-ada"}, headers=bearer(stack, "admin")
        )
        assert on_behalf.status_code == 201, on_behalf.text
    events = await published_evidence(nats_url, before + 2)
    recorded = [e for e in events[before:] if isinstance(e, AttemptRecordedV1)]
    assert [e.recorded_by for e in recorded] == ["teacher-demo", "t-ada"]

    store = open_store(EvidenceSettings(data_dir=stack.data_dir), None)
    try:
        history: StudentEvidence = store.repository.get(StudentEvidence.create_id(STUDENT))
        stored = [
            e
            for e in store.repository.event_store.get(history.id)
            if isinstance(e, StudentEvidence.AttemptRecorded)
        ]
    finally:
        store.close()
    last_two = [(e.recorded_by, e.actor or {}) for e in stored[-2:]]
    assert [(by, actor["by"], actor["via"]) for by, actor in last_two] == [
        ("teacher-demo", "teacher-demo", "grpc /arc.evidence.v1.EvidenceService/RecordAttempt"),
        ("t-ada", "admin-demo", "http POST /api/v1/attempts"),
    ]
    assert all(
        actor["client_id"] == "arc-dev" and "127.0.0.1" in actor["client_address"]
        for _, actor in last_two
    )
    by_tool = [e.actor or {} for e in stored if e.source == "xapi"]
    assert by_tool and by_tool[0]["by"] == "tool-demo"  # the statement's sender


async def test_reading_a_statement_about_a_student_is_in_the_access_log(
    stack: Stack, world: World
) -> None:
    async with httpx.AsyncClient(base_url=stack.http_url("evidence")) as http:
        got = await http.get(
            "/xapi/statements",
            params={"statementId": world.statement_id},
            headers=XAPI | bearer(stack, "auditor"),
        )
        assert got.status_code == 200
    log = AccessLog(create_engine(EvidenceSettings(data_dir=stack.data_dir)))
    [entry] = log.entries(subject="auditor-demo")
    assert (entry.student_id, entry.action, entry.endpoint) == (
        STUDENT,
        "read_student",
        "GET /xapi/statements",
    )


# --- the rule tables are whole, and a method or route without a rule is refused -------------


@pytest.fixture
def in_process(tmp_path: Path) -> Iterator[tuple[Access, DevIssuerServer, Any]]:
    issuer = DevIssuerServer(tmp_path / "keys").start()
    app = open_store(EvidenceSettings(data_dir=tmp_path / "data"), None)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'access.sqlite'}")
    verifier = TokenVerifier(
        TokenSettings(issuer=issuer.url, audience="arc", jwks_url=f"{issuer.url}/jwks.json")
    )
    relationships, log = RelationshipsView(engine), AccessLog(engine)
    yield Access(AccessGuard(verifier, relationships, log), relationships, log), issuer, app
    app.close()
    issuer.stop()


def test_the_rules_and_this_test_cover_every_evidence_endpoint(
    in_process: tuple[Access, DevIssuerServer, Any],
) -> None:
    access, _, app = in_process
    methods = {m.name for m in pb.DESCRIPTOR.services_by_name["EvidenceService"].methods}
    assert set(GRPC_RULES) == {f"/arc.evidence.v1.EvidenceService/{m}" for m in methods}
    assert set(GRPC_ENDPOINTS) == methods
    document = create_app(app, access, lambda: None).openapi()  # includes the routers' routes
    routes = {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert routes == set(HTTP_RULES)
    assert {f"{m} {t}" for m, t, *_ in HTTP_ENDPOINTS} == routes - {"GET /healthz"}


async def test_a_method_or_route_without_a_rule_is_refused_even_to_an_admin(
    in_process: tuple[Access, DevIssuerServer, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    access, issuer, app = in_process
    rules = {m: r for m, r in GRPC_RULES.items() if not m.endswith("/ListAttempts")}
    servicer = EvidenceServicer(app, lambda: None)
    server, port = await start_server(
        "127.0.0.1",
        0,
        [lambda s: evidence_pb2_grpc.add_EvidenceServiceServicer_to_server(servicer, s)],
        ["arc.evidence.v1.EvidenceService"],
        interceptors=[access.grpc(rules)],
    )
    token = issuer.issuer.token("admin")
    try:
        target = f"127.0.0.1:{port}"
        async with grpc.aio.insecure_channel(target, interceptors=bearer_interceptors(token)) as c:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await Stub(c).ListAttempts(pb.ListAttemptsRequest(student_id=STUDENT))
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        await server.stop(None)
    from arc_evidence import http_api

    monkeypatch.delitem(http_api.ACCESS_RULES, "GET /api/v1/students/{student_id}/attempts")
    api = create_app(app, access, lambda: None)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api),
        base_url="http://arc",
        headers={"Authorization": f"Bearer {token}"},
    ) as http:
        assert (await http.get(f"/api/v1/students/{STUDENT}/attempts")).status_code == 403
        assert (await http.get("/api/v1/catalog-view")).status_code == 200
