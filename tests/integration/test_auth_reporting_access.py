"""Every role against every reporting page, API route, export and gRPC method, in-process behind
the real access guard (tokens from a dev issuer, relationships from the catalog's events).

Riverside: section sec-6a of school sch-1 is taught by t-ada and has s-maya (guardian g-rosa),
s-noah and s-zoe; l-lee leads sch-1. sec-9z of sch-2 (teacher t-bob, student s-ian, leader
l-kim) is another school's class.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from google.protobuf.message import Message

from arc.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from arc_platform.auth import Role
from arc_platform.auth.client import bearer_interceptors
from arc_platform.auth.dev_issuer import DemoUser
from arc_platform.grpc_server import start_server
from arc_reporting import http_api, pages, signin
from arc_reporting.access import COOKIE, GRPC_RULES, HTTP_RULES
from arc_reporting.grpc_api import ReportingServicer
from arc_reporting.http_api import create_app
from arc_reporting.read_model import ReportingReadModel
from tests.support.reporting import SignedIn, Story, riverside


def who(subject: str, role: Role) -> DemoUser:
    return DemoUser(subject, (role,), subject)


@pytest.fixture
def story(tmp_path: Path) -> Story:
    story = riverside(ReportingReadModel(sa.create_engine(f"sqlite:///{tmp_path / 'v.sqlite'}")))
    story.school("sch-2", "Hillside High")
    for person, role in (("t-bob", "teacher"), ("s-ian", "student")):
        story.person(person, role, person, "X")
    story.person("l-lee", "administrator", "Lee", "L", school_ids=("sch-1",))
    story.person("l-kim", "administrator", "Kim", "K", school_ids=("sch-2",))
    story.section("sec-9z", "math-6", ["s-ian"], teachers=("t-bob",), school="sch-2")
    return story


@pytest.fixture
def signed_in(story: Story, tmp_path: Path) -> Iterator[SignedIn]:
    signed = SignedIn(story, story.model, tmp_path)
    yield signed
    signed.stop()


@pytest.fixture
def client(story: Story, signed_in: SignedIn) -> Iterator[TestClient]:
    with TestClient(create_app(story.model, signed_in.access, dev_sign_in=True)) as client:
        yield client


#: Student, Guardian, Teacher, Leader, network Admin, aUditor: which the caller is for Maya.
S, G, T, L, A, U = "S", "G", "T", "L", "A", "U"
CALLERS: dict[str, tuple[str | DemoUser, str]] = {  # name → user, their letter (or none)
    "Maya herself": (who("s-maya", Role.STUDENT), S),
    "another student": (who("s-noah", Role.STUDENT), ""),
    "Maya's guardian": (who("g-rosa", Role.GUARDIAN), G),
    "another guardian": (who("g-nobody", Role.GUARDIAN), ""),
    "Maya's teacher": (who("t-ada", Role.TEACHER), T),
    "another school's teacher": (who("t-bob", Role.TEACHER), ""),
    "her school's leader": (who("l-lee", Role.LEADER), L),
    "another school's leader": (who("l-kim", Role.LEADER), ""),
    "a network admin": ("admin", A),
    "an auditor": ("auditor", U),
    "an integrator": ("integrator", ""),
}
STUDENT, SECTION, SCHOOL, NETWORK = "SGTLAU", "TLAU", "LAU", "AU"
M = "/students/s-maya"
#: path → the scopes that may open it
ENDPOINTS: dict[str, str] = {
    f"/api/v1{M}": STUDENT,
    f"/api/v1{M}/outcomes/ratios": STUDENT,
    f"/api/v1{M}/report-card": STUDENT,
    M: STUDENT,
    f"{M}?as_of=2026-09-20": STUDENT,
    f"{M}/outcomes/ratios": STUDENT,
    f"{M}/outcomes/ratios/chart.svg": STUDENT,
    f"{M}/report-card": STUDENT,
    f"{M}/report-card.pdf": STUDENT,
    f"{M}/report-card.csv?as_of=2026-09-20": STUDENT,
    "/api/v1/guardians/g-rosa": "GAU",
    "/families/g-rosa": "GAU",
    "/api/v1/teachers/t-ada": "TAU",
    "/teachers/t-ada": "TAU",
    "/api/v1/sections/sec-6a/heatmap": SECTION,
    "/sections/sec-6a": SECTION,
    "/sections/sec-6a?as_of=2026-09-20": SECTION,
    "/api/v1/sections/sec-6a/report-cards": SECTION,
    "/sections/sec-6a/report-cards": SECTION,
    "/sections/sec-6a/report-cards.pdf": SECTION,
    "/sections/sec-6a/report-cards.csv": SECTION,
    "/sections/sec-6a/evidence": "TA",
    "/api/v1/warnings?section_id=sec-6a": SECTION,
    "/warnings?section_id=sec-6a": SECTION,
    "/api/v1/schools/sch-1/report-cards": SCHOOL,
    "/schools/sch-1/report-cards": SCHOOL,
    "/schools/sch-1/report-cards.csv": SCHOOL,
    "/schools/sch-1/report-cards.pdf?as_of=2026-09-20": SCHOOL,
    "/api/v1/distribution?school_id=sch-1": SCHOOL,
    "/leaders?school_id=sch-1": SCHOOL,
    "/api/v1/warnings?school_id=sch-1": SCHOOL,
    "/warnings?school_id=sch-1": SCHOOL,
    "/api/v1/distribution": NETWORK,
    "/leaders": NETWORK,
    "/warnings": NETWORK,
    "/api/v1/directory": NETWORK,
}


def test_every_role_against_every_reporting_page_api_and_export(
    client: TestClient, signed_in: SignedIn
) -> None:
    wrong = []
    for caller, (user, scope) in CALLERS.items():
        headers = signed_in.headers(user)
        for path, allowed in ENDPOINTS.items():
            status = client.get(path, headers=headers).status_code
            want = 200 if scope and scope in allowed else 403
            if status != want:
                wrong.append(f"{caller} GET {path}: {status}, expected {want}")
    assert wrong == []


DENIED = grpc.StatusCode.PERMISSION_DENIED
GrpcCall = Callable[[reporting_pb2_grpc.ReportingServiceStub], Awaitable[Message]]
#: method → the call, and the scopes that may make it
GRPC_ENDPOINTS: dict[str, tuple[GrpcCall, str]] = {
    "GetStudentOutcome": (
        lambda s: s.GetStudentOutcome(
            reporting_pb2.GetStudentOutcomeRequest(student_id="s-maya", outcome_id="ratios")
        ),
        STUDENT,
    ),
    "GetProjectionStatus": (
        lambda s: s.GetProjectionStatus(reporting_pb2.ProjectionStatusRequest()),
        NETWORK,
    ),
}


async def grpc_code(port: int, token: str | None, call: GrpcCall) -> grpc.StatusCode:
    """The status of ``call`` made with ``token`` (None: without one)."""
    interceptors = bearer_interceptors(token) if token is not None else None
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", interceptors=interceptors) as c:
        try:
            await call(reporting_pb2_grpc.ReportingServiceStub(c))
        except grpc.aio.AioRpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


async def test_every_role_against_every_reporting_grpc_method(
    story: Story, signed_in: SignedIn
) -> None:
    servicer = ReportingServicer(story.model)
    server, port = await start_server(
        "127.0.0.1",
        0,
        [lambda s: reporting_pb2_grpc.add_ReportingServiceServicer_to_server(servicer, s)],
        ["arc.reporting.v1.ReportingService"],
        interceptors=[signed_in.access.grpc(GRPC_RULES)],
    )
    wrong = []
    try:
        for caller, (user, scope) in CALLERS.items():
            token = signed_in.token(user)
            for name, (call, allowed) in GRPC_ENDPOINTS.items():
                want = grpc.StatusCode.OK if scope and scope in allowed else DENIED
                got = await grpc_code(port, token, call)
                if got != want:
                    wrong.append(f"{caller} {name}: {got.name}, expected {want.name}")
        for name, (call, _) in GRPC_ENDPOINTS.items():
            got = await grpc_code(port, None, call)
            if got != grpc.StatusCode.UNAUTHENTICATED:
                wrong.append(f"no token {name}: {got.name}, expected UNAUTHENTICATED")
    finally:
        await server.stop(None)
    assert wrong == []
    assert set(GRPC_ENDPOINTS) == {m.split("/")[-1] for m in GRPC_RULES}


def test_without_a_token_the_api_says_401_and_pages_ask_to_sign_in(client: TestClient) -> None:
    for path in ENDPOINTS:
        reply = client.get(path, follow_redirects=False)
        if path.startswith("/api/"):
            assert reply.status_code == 401, path
        else:
            assert reply.status_code == 303, path
            assert reply.headers["location"].startswith("/signin?next="), path
    assert client.get("/healthz").status_code == 200
    assert client.get("/static/style.css").status_code == 200


def test_a_refusal_does_not_reveal_whether_the_student_exists(
    client: TestClient, signed_in: SignedIn
) -> None:
    outsider = signed_in.headers(who("t-bob", Role.TEACHER))
    for template in ("/api/v1/students/{}", "/students/{}", "/students/{}/report-card.pdf"):
        answers = {
            (r.status_code, r.text)
            for student in ("s-maya", "s-nobody")
            for r in [client.get(template.format(student), headers=outsider)]
        }
        assert len(answers) == 1 and next(iter(answers))[0] == 403, template


def test_the_start_page_takes_each_person_to_their_own_view(
    client: TestClient, signed_in: SignedIn
) -> None:
    def start(user: str | DemoUser) -> str:
        reply = client.get("/", headers=signed_in.headers(user), follow_redirects=False)
        return str(reply.headers.get("location", reply.status_code))

    assert start(who("s-maya", Role.STUDENT)) == "/students/s-maya"
    assert start(who("g-rosa", Role.GUARDIAN)) == "/families/g-rosa"
    assert start(who("t-ada", Role.TEACHER)) == "/teachers/t-ada"
    assert start(who("l-lee", Role.LEADER)) == "/leaders?school_id=sch-1"
    assert start("auditor") == "200"
    assert start("integrator") == "403"


def test_a_teacher_enters_evidence_only_in_her_own_section(
    client: TestClient, signed_in: SignedIn
) -> None:
    body = {
        "recorded_by": "t-ada",
        "assessed_at": "2026-09-20T10:00:00Z",
        "assessment_ref": "quiz",
        "rows": [{"student_id": "s-ian", "scores": [{"outcome_id": "ratios", "score": 3}]}],
    }
    ada = signed_in.headers(who("t-ada", Role.TEACHER))
    # a student of another school's section, slipped into her class's entry: refused
    reply = client.post("/api/v1/sections/sec-6a/evidence", json=body, headers=ada)
    assert reply.status_code == 403
    auditor = signed_in.headers("auditor")
    body["rows"][0]["student_id"] = "s-maya"  # type: ignore[index]
    assert (
        client.post("/api/v1/sections/sec-6a/evidence", json=body, headers=auditor).status_code
        == 403
    )


def test_lists_are_logged_as_reads_and_show_only_what_the_caller_may_see(
    client: TestClient, signed_in: SignedIn
) -> None:
    ada = signed_in.headers(who("t-ada", Role.TEACHER))
    rows = client.get("/api/v1/sections/sec-6a/heatmap", headers=ada).json()["heatmap"]["rows"]
    assert {r["student_id"] for r in rows} == {"s-maya", "s-noah", "s-zoe"}
    read = signed_in.access.log.entries(subject="t-ada")
    assert {e.student_id for e in read if e.reason == "returned in a list"} == {
        "s-maya",
        "s-noah",
        "s-zoe",
    }
    admin = signed_in.headers("admin")
    cards = client.get("/api/v1/schools/sch-2/report-cards", headers=admin).json()["cards"]
    assert [c["student_id"] for c in cards] == ["s-ian"]


def test_a_browser_signs_in_with_a_token_kept_in_an_http_only_cookie(
    client: TestClient, signed_in: SignedIn
) -> None:
    page = client.get("/students/s-maya", follow_redirects=True)
    assert page.url.path == "/signin" and "admin" in page.text  # the dev buttons
    token = signed_in.token(who("s-maya", Role.STUDENT))
    reply = client.post(
        "/signin", data={"token": token, "next": "/students/s-maya"}, follow_redirects=False
    )
    assert reply.status_code == 303 and reply.headers["location"] == "/students/s-maya"
    cookie = reply.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/students/s-maya").status_code == 200
    assert client.get("/students/s-noah").status_code == 403
    assert client.get("/api/v1/students/s-maya").status_code == 401  # the API ignores cookies
    bad = client.post("/signin", data={"token": token[:-4] + "AAAA"}, follow_redirects=False)
    assert bad.status_code == 401 and COOKIE not in bad.headers.get("set-cookie", "")
    outside = client.post(
        "/signin", data={"token": token, "next": "//evil.example"}, follow_redirects=False
    )
    assert outside.headers["location"] == "/"
    client.post("/signout")
    assert client.get("/students/s-maya", follow_redirects=False).status_code == 303


def test_every_reporting_endpoint_has_an_access_rule(story: Story, signed_in: SignedIn) -> None:
    """A method or route without a rule is refused at run time; this keeps the tables whole."""
    methods = reporting_pb2.DESCRIPTOR.services_by_name["ReportingService"].methods
    assert set(GRPC_RULES) == {f"/arc.reporting.v1.ReportingService/{m.name}" for m in methods}
    create_app(story.model, signed_in.access)  # includes every router below
    routers = [http_api.api, http_api.exports, pages.router, signin.router]
    routes = {
        f"{method} {route.path}"
        for route in [r for router in routers for r in router.routes]
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    assert routes | {"GET /healthz"} == set(HTTP_RULES)
