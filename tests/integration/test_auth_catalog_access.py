"""Every role against every catalog endpoint, over gRPC and HTTP, on the real service.

The network admin defines the world through the API: schools sch-A and sch-B; section sec-1 of
sch-A is taught by teacher-demo and has stu-001 and her classmate stu-003, whose guardian
(guardian-001) is hers too; leader-demo leads sch-A. sec-2 of sch-B (teacher-002, stu-002,
guardian-002, leader-002) is another class. Definitions (scales, outcomes, frameworks,
policies, courses, terms, schools, settings) are the grading policy everyone may read; people,
sections and rosters are read like student records; only the network admin changes anything.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute
from grpc_health.v1 import health_pb2, health_pb2_grpc

from arc.catalog.v1 import catalog_pb2 as pb
from arc.catalog.v1 import catalog_pb2_grpc
from arc_catalog import http_api
from arc_catalog.__main__ import CatalogSettings
from arc_catalog.access import CatalogRelationships
from arc_catalog.application import open_catalog
from arc_catalog.core import CatalogStore
from arc_catalog.domain.records import Record
from arc_catalog.grpc_api import ACCESS_RULES as GRPC_RULES
from arc_catalog.grpc_api import CatalogServicer
from arc_catalog.http_api import ACCESS_RULES as HTTP_RULES
from arc_catalog.http_api import create_app
from arc_platform.auth import Access, AccessGuard, AccessLog, Role
from arc_platform.auth.client import bearer_interceptors
from arc_platform.auth.dev_issuer import DemoUser, DevIssuerServer
from arc_platform.auth.guard import HEAR_OUT_SECONDS
from arc_platform.auth.tokens import TokenSettings, TokenVerifier
from arc_platform.grpc_server import start_server
from arc_platform.store import open_application
from arc_platform.views import create_engine
from tests.support.callers import CALLERS, CLASSMATE, OTHER_STUDENT, STUDENT, other
from tests.support.stack import ONE_TO_FOUR, Stack

Stub = catalog_pb2_grpc.CatalogServiceStub


ADMIN_AND_AUDITOR = {"a network admin", "an auditor"}
#: kind of endpoint → who may call it
MAY: dict[str, set[str]] = {
    "definitions": set(CALLERS) - {"an integrator"},
    "change": {"a network admin"},
    "stu-001": {
        "the student herself",
        "her guardian",
        "her teacher",
        "her school's leader",
        *ADMIN_AND_AUDITOR,
    },
    "sec-1": {"her teacher", "her school's leader", *ADMIN_AND_AUDITOR},
    "teacher-demo": {"her teacher", "her school's leader", *ADMIN_AND_AUDITOR},
    "sch-A": {"her school's leader", *ADMIN_AND_AUDITOR},
    "directory": ADMIN_AND_AUDITOR,
}


def person(person_id: str, role: str, **extra: Any) -> pb.Person:
    return pb.Person(person_id=person_id, role=role, given_name="A", family_name=person_id, **extra)


def section(section_id: str, school: str, teacher: str, *students: str) -> pb.Section:
    return pb.Section(
        section_id=section_id,
        course_id="c1",
        title=section_id,
        school_id=school,
        teacher_ids=[teacher],
        student_ids=list(students),
    )


OUTCOME = pb.DefineOutcomeRequest(
    outcome_id="math.1", code="M.1", statement="I can add fractions", scale_id="four"
)
NETWORK_POLICY = pb.Policy(scope="network", method="decaying_average", params={"w": "0.65"})
COURSE_POLICY = pb.Policy(scope="course", scope_id="c1", method="most_recent")
COURSE = pb.Course(course_id="c1", title="Math 6", outcomes=[pb.CourseOutcome(outcome_id="math.1")])
DOC = "d0000000-0000-4000-8000-000000000000"
CASE_PACKAGE = {
    "CFDocument": {
        "identifier": DOC,
        "uri": "https://case.example/doc",
        "title": "School math",
        "creator": "A school",
        "lastChangeDateTime": "2026-01-01T00:00:00+00:00",
    },
    "CFItems": [
        {
            "identifier": "d0000000-0000-4000-8000-000000000001",
            "uri": "https://case.example/items/1",
            "humanCodingScheme": "SM.1",
            "fullStatement": "I can subtract",
            "lastChangeDateTime": "2026-01-01T00:00:00+00:00",
        }
    ],
    "CFAssociations": [
        {
            "identifier": "a0000000-0000-4000-8000-000000000001",
            "uri": "https://case.example/associations/1",
            "associationType": "isChildOf",
            "originNodeURI": {
                "title": "o",
                "identifier": "d0000000-0000-4000-8000-000000000001",
                "uri": "x",
            },
            "destinationNodeURI": {"title": "d", "identifier": DOC, "uri": "y"},
            "lastChangeDateTime": "2026-01-01T00:00:00+00:00",
        }
    ],
}


async def build_world(api: Stub) -> None:
    await api.DefineScale(pb.DefineScaleRequest(scale_id="four", scale=ONE_TO_FOUR), timeout=30)
    await api.SetNetworkSettings(pb.NetworkSettings(name="Ridge", default_scale_id="four"))
    await api.DefineOutcome(OUTCOME)
    for retired in ("old.1", "old.2"):
        await api.DefineOutcome(
            pb.DefineOutcomeRequest(outcome_id=retired, code=retired, statement="I could")
        )
    await api.DefineFramework(
        pb.DefineFrameworkRequest(framework=pb.Framework(framework_id="fw", title="Math"))
    )
    await api.DefineCourse(COURSE)
    await api.SetPolicy(pb.SetPolicyRequest(policy=NETWORK_POLICY))
    await api.SetPolicy(pb.SetPolicyRequest(policy=COURSE_POLICY))
    await api.DefineTerm(pb.Term(term_id="t1", title="2026-27", kind="schoolYear"))
    for school in ("sch-A", "sch-B"):
        await api.DefineOrg(pb.Org(org_id=school, name=school, kind="school"))
    for people in (
        person(STUDENT, "student", school_ids=["sch-A"]),
        person(CLASSMATE, "student", school_ids=["sch-A"]),
        person(OTHER_STUDENT, "student", school_ids=["sch-B"]),
        person("teacher-demo", "teacher", school_ids=["sch-A"]),
        person("teacher-002", "teacher", school_ids=["sch-B"]),
        person("guardian-001", "guardian", guardian_of=[STUDENT, CLASSMATE]),
        person("guardian-002", "guardian", guardian_of=[OTHER_STUDENT]),
        person("leader-demo", "administrator", school_ids=["sch-A"]),
        person("leader-002", "administrator", school_ids=["sch-B"]),
    ):
        await api.DefinePerson(people)
    await api.DefineSection(section("sec-1", "sch-A", "teacher-demo", STUDENT, CLASSMATE))
    await api.DefineSection(section("sec-2", "sch-B", "teacher-002", OTHER_STUDENT))


async def last_report(reports: Any) -> pb.ImportProgress:
    last: pb.ImportProgress | None = None
    async for report in reports:
        last = report
    assert last is not None
    return last


GrpcCall = Callable[[Stub], Awaitable[Any]]
#: name → (method, call, kind); a method may appear with several filters.
GRPC_ENDPOINTS: dict[str, tuple[str, GrpcCall, str]] = {
    "GetScale": (
        "GetScale",
        lambda s: s.GetScale(pb.GetScaleRequest(scale_id="four")),
        "definitions",
    ),
    "ListScales": ("ListScales", lambda s: s.ListScales(pb.ListScalesRequest()), "definitions"),
    "GetOutcome": (
        "GetOutcome",
        lambda s: s.GetOutcome(pb.GetOutcomeRequest(outcome_id="math.1")),
        "definitions",
    ),
    "ListOutcomes": (
        "ListOutcomes",
        lambda s: s.ListOutcomes(pb.ListOutcomesRequest()),
        "definitions",
    ),
    "GetFramework": (
        "GetFramework",
        lambda s: s.GetFramework(pb.GetFrameworkRequest(framework_id="fw")),
        "definitions",
    ),
    "ListFrameworks": (
        "ListFrameworks",
        lambda s: s.ListFrameworks(pb.ListFrameworksRequest()),
        "definitions",
    ),
    "ExportCase": (
        "ExportCase",
        lambda s: s.ExportCase(pb.ExportCaseRequest(framework_id="fw")),
        "definitions",
    ),
    "GetPolicy": (
        "GetPolicy",
        lambda s: s.GetPolicy(pb.GetPolicyRequest(policy_id="network")),
        "definitions",
    ),
    "ListPolicies": (
        "ListPolicies",
        lambda s: s.ListPolicies(pb.ListPoliciesRequest()),
        "definitions",
    ),
    "ResolvePolicy": (
        "ResolvePolicy",
        lambda s: s.ResolvePolicy(pb.ResolvePolicyRequest(course_id="c1", outcome_id="math.1")),
        "definitions",
    ),
    "GetCourse": ("GetCourse", lambda s: s.GetCourse(pb.GetRequest(id="c1")), "definitions"),
    "ListCourses": ("ListCourses", lambda s: s.ListCourses(pb.ListCoursesRequest()), "definitions"),
    "GetTerm": ("GetTerm", lambda s: s.GetTerm(pb.GetRequest(id="t1")), "definitions"),
    "ListTerms": ("ListTerms", lambda s: s.ListTerms(pb.ListTermsRequest()), "definitions"),
    "GetOrg": ("GetOrg", lambda s: s.GetOrg(pb.GetRequest(id="sch-A")), "definitions"),
    "ListOrgs": ("ListOrgs", lambda s: s.ListOrgs(pb.ListOrgsRequest()), "definitions"),
    "GetNetworkSettings": (
        "GetNetworkSettings",
        lambda s: s.GetNetworkSettings(pb.GetNetworkSettingsRequest()),
        "definitions",
    ),
    "GetPerson stu-001": ("GetPerson", lambda s: s.GetPerson(pb.GetRequest(id=STUDENT)), "stu-001"),
    "ListPeople guardians of stu-001": (
        "ListPeople",
        lambda s: s.ListPeople(pb.ListPeopleRequest(guardian_of=STUDENT)),
        "stu-001",
    ),
    "ListPeople of sch-A": (
        "ListPeople",
        lambda s: s.ListPeople(pb.ListPeopleRequest(school_id="sch-A")),
        "sch-A",
    ),
    "ListPeople everyone": (
        "ListPeople",
        lambda s: s.ListPeople(pb.ListPeopleRequest()),
        "directory",
    ),
    "GetSection sec-1": ("GetSection", lambda s: s.GetSection(pb.GetRequest(id="sec-1")), "sec-1"),
    "ListSections of stu-001": (
        "ListSections",
        lambda s: s.ListSections(pb.ListSectionsRequest(student_id=STUDENT)),
        "stu-001",
    ),
    "ListSections of teacher-demo": (
        "ListSections",
        lambda s: s.ListSections(pb.ListSectionsRequest(teacher_id="teacher-demo")),
        "teacher-demo",
    ),
    "ListSections of sch-A": (
        "ListSections",
        lambda s: s.ListSections(pb.ListSectionsRequest(school_id="sch-A")),
        "sch-A",
    ),
    "ListSections everywhere": (
        "ListSections",
        lambda s: s.ListSections(pb.ListSectionsRequest()),
        "directory",
    ),
    # Changes: the admin's go through (and change nothing the other callers rely on).
    "DefineScale": (
        "DefineScale",
        lambda s: s.DefineScale(pb.DefineScaleRequest(scale_id="four", scale=ONE_TO_FOUR)),
        "change",
    ),
    "DefineOutcome": ("DefineOutcome", lambda s: s.DefineOutcome(OUTCOME), "change"),
    "RetireOutcome": (
        "RetireOutcome",
        lambda s: s.RetireOutcome(pb.RetireOutcomeRequest(outcome_id="old.1")),
        "change",
    ),
    "DefineFramework": (
        "DefineFramework",
        lambda s: s.DefineFramework(
            pb.DefineFrameworkRequest(framework=pb.Framework(framework_id="fw", title="Math"))
        ),
        "change",
    ),
    "DefineGroup": (
        "DefineGroup",
        lambda s: s.DefineGroup(
            pb.DefineGroupRequest(framework_id="fw", group=pb.Group(group_id="g1", title="G"))
        ),
        "change",
    ),
    "RemoveGroup": (
        "RemoveGroup",
        lambda s: s.RemoveGroup(pb.RemoveGroupRequest(framework_id="fw", group_id="g1")),
        "change",
    ),
    "ImportCase": (
        "ImportCase",
        lambda s: last_report(
            s.ImportCase(
                iter([pb.ImportCaseRequest(package=json.dumps(CASE_PACKAGE).encode())]),
                timeout=30,
            )
        ),
        "change",
    ),
    "SetPolicy": (
        "SetPolicy",
        lambda s: s.SetPolicy(pb.SetPolicyRequest(policy=NETWORK_POLICY)),
        "change",
    ),
    "RetirePolicy": (
        "RetirePolicy",
        lambda s: s.RetirePolicy(pb.RetirePolicyRequest(scope="course", scope_id="c1")),
        "change",
    ),
    "DefineCourse": ("DefineCourse", lambda s: s.DefineCourse(COURSE), "change"),
    "DefineTerm": (
        "DefineTerm",
        lambda s: s.DefineTerm(pb.Term(term_id="t1", title="2026-27", kind="schoolYear")),
        "change",
    ),
    "DefineOrg": (
        "DefineOrg",
        lambda s: s.DefineOrg(pb.Org(org_id="sch-A", name="sch-A", kind="school")),
        "change",
    ),
    "DefineSection": (
        "DefineSection",
        lambda s: s.DefineSection(pb.Section(section_id="sec-x", course_id="c1", title="X")),
        "change",
    ),
    "Enroll": (
        "Enroll",
        lambda s: s.Enroll(pb.EnrollRequest(section_id="sec-x", person_id=OTHER_STUDENT)),
        "change",
    ),
    "Unenroll": (
        "Unenroll",
        lambda s: s.Unenroll(pb.UnenrollRequest(section_id="sec-x", person_id=OTHER_STUDENT)),
        "change",
    ),
    "DefinePerson": ("DefinePerson", lambda s: s.DefinePerson(person("p-x", "student")), "change"),
    "ForgetStudent": (
        "ForgetStudent",
        lambda s: s.ForgetStudent(pb.ForgetStudentRequest(student_id="p-x")),
        "change",
    ),
    "ImportOneRoster": (
        "ImportOneRoster",
        # Refused by the roster's own checks when it gets that far (a bulk set would retire
        # the people above).
        lambda s: last_report(
            s.ImportOneRoster(iter([pb.ImportOneRosterRequest(zip=b"not a zip")]), timeout=30)
        ),
        "change",
    ),
    "SetNetworkSettings": (
        "SetNetworkSettings",
        lambda s: s.SetNetworkSettings(pb.NetworkSettings(name="Ridge", default_scale_id="four")),
        "change",
    ),
}

FOUR_JSON = {
    "name": "1-4",
    "levels": [
        {"value": v, "label": label}
        for v, label in enumerate(("Not yet", "Approaching", "Meets", "Exceeds"), 1)
    ],
    "mastery_threshold": 3,
}
POLICY_JSON = {"method": "decaying_average", "params": {"w": "0.65"}}
#: (method, route template, its parameters, body, kind)
HttpCall = tuple[str, str, dict[str, str], dict[str, Any], str]
HTTP_ENDPOINTS: list[HttpCall] = [
    ("GET", "/api/v1/settings", {}, {}, "definitions"),
    ("GET", "/api/v1/scales", {}, {}, "definitions"),
    ("GET", "/api/v1/scales/{scale_id}", {"scale_id": "four"}, {}, "definitions"),
    ("GET", "/api/v1/outcomes", {}, {}, "definitions"),
    ("GET", "/api/v1/outcomes/{outcome_id}", {"outcome_id": "math.1"}, {}, "definitions"),
    ("GET", "/api/v1/frameworks", {}, {}, "definitions"),
    ("GET", "/api/v1/frameworks/{framework_id}", {"framework_id": "fw"}, {}, "definitions"),
    ("GET", "/api/v1/frameworks/{framework_id}/case", {"framework_id": "fw"}, {}, "definitions"),
    ("GET", "/api/v1/policies", {}, {}, "definitions"),
    ("GET", "/api/v1/policies/resolve", {}, {"params": {"course_id": "c1"}}, "definitions"),
    ("GET", "/api/v1/policies/{policy_id}", {"policy_id": "network"}, {}, "definitions"),
    ("GET", "/api/v1/courses", {}, {}, "definitions"),
    ("GET", "/api/v1/courses/{course_id}", {"course_id": "c1"}, {}, "definitions"),
    ("GET", "/api/v1/terms", {}, {}, "definitions"),
    ("GET", "/api/v1/terms/{term_id}", {"term_id": "t1"}, {}, "definitions"),
    ("GET", "/api/v1/orgs", {}, {}, "definitions"),
    ("GET", "/api/v1/orgs/{org_id}", {"org_id": "sch-A"}, {}, "definitions"),
    ("GET", "/api/v1/people", {}, {"params": {"guardian_of": STUDENT}}, "stu-001"),
    ("GET", "/api/v1/people", {}, {"params": {"school_id": "sch-A"}}, "sch-A"),
    ("GET", "/api/v1/people", {}, {"params": {"role": "student"}}, "directory"),
    ("GET", "/api/v1/people/{person_id}", {"person_id": STUDENT}, {}, "stu-001"),
    ("GET", "/api/v1/sections", {}, {"params": {"student_id": STUDENT}}, "stu-001"),
    ("GET", "/api/v1/sections", {}, {"params": {"teacher_id": "teacher-demo"}}, "teacher-demo"),
    ("GET", "/api/v1/sections", {}, {"params": {"school_id": "sch-A"}}, "sch-A"),
    ("GET", "/api/v1/sections", {}, {}, "directory"),
    ("GET", "/api/v1/sections/{section_id}", {"section_id": "sec-1"}, {}, "sec-1"),
    (
        "PUT",
        "/api/v1/settings",
        {},
        {"json": {"name": "Ridge", "default_scale_id": "four"}},
        "change",
    ),
    ("PUT", "/api/v1/scales/{scale_id}", {"scale_id": "four"}, {"json": FOUR_JSON}, "change"),
    ("POST", "/api/v1/outcomes", {}, {"json": {"code": "M.9", "statement": "I can"}}, "change"),
    (
        "PUT",
        "/api/v1/outcomes/{outcome_id}",
        {"outcome_id": "math.1"},
        {"json": {"code": "M.1", "statement": "I can add fractions", "scale_id": "four"}},
        "change",
    ),
    ("POST", "/api/v1/outcomes/{outcome_id}/retire", {"outcome_id": "old.2"}, {}, "change"),
    (
        "PUT",
        "/api/v1/frameworks/{framework_id}",
        {"framework_id": "fw"},
        {"json": {"title": "Math"}},
        "change",
    ),
    (
        "PUT",
        "/api/v1/frameworks/{framework_id}/groups/{group_id}",
        {"framework_id": "fw", "group_id": "g2"},
        {"json": {"title": "G2"}},
        "change",
    ),
    (
        "DELETE",
        "/api/v1/frameworks/{framework_id}/groups/{group_id}",
        {"framework_id": "fw", "group_id": "g2"},
        {},
        "change",
    ),
    ("POST", "/api/v1/imports/case", {}, {"content": json.dumps(CASE_PACKAGE)}, "change"),
    ("POST", "/api/v1/imports/oneroster", {}, {"content": b"not a zip"}, "change"),
    ("PUT", "/api/v1/policies/network", {}, {"json": POLICY_JSON}, "change"),
    (
        "PUT",
        "/api/v1/policies/{scope}/{scope_id}",
        {"scope": "course", "scope_id": "c1"},
        {"json": POLICY_JSON},
        "change",
    ),
    (
        "DELETE",
        "/api/v1/policies/{scope}/{scope_id}",
        {"scope": "course", "scope_id": "c1"},
        {},
        "change",
    ),
    (
        "PUT",
        "/api/v1/courses/{course_id}",
        {"course_id": "c2"},
        {"json": {"title": "Math 7"}},
        "change",
    ),
    ("PUT", "/api/v1/terms/{term_id}", {"term_id": "t2"}, {"json": {"title": "Fall"}}, "change"),
    ("PUT", "/api/v1/orgs/{org_id}", {"org_id": "sch-C"}, {"json": {"name": "C"}}, "change"),
    (
        "PUT",
        "/api/v1/sections/{section_id}",
        {"section_id": "sec-y"},
        {"json": {"course_id": "c1", "title": "Y"}},
        "change",
    ),
    (
        "POST",
        "/api/v1/sections/{section_id}/enrollments",
        {"section_id": "sec-y"},
        {"json": {"person_id": OTHER_STUDENT}},
        "change",
    ),
    (
        "DELETE",
        "/api/v1/sections/{section_id}/enrollments/{person_id}",
        {"section_id": "sec-y", "person_id": OTHER_STUDENT},
        {},
        "change",
    ),
    (
        "PUT",
        "/api/v1/people/{person_id}",
        {"person_id": "p-y"},
        {"json": {"role": "student", "given_name": "P", "family_name": "Y"}},
        "change",
    ),
    ("POST", "/api/v1/people/{person_id}/forget", {"person_id": "p-y"}, {}, "change"),
]


@pytest.fixture
def stack(nats_url: str, tmp_path: Path) -> Iterator[Stack]:
    running = Stack(nats_url, tmp_path / "data").start("catalog")
    yield running
    running.stop()


async def ready(stack: Stack) -> None:
    await build_world(stack.catalog())


async def grpc_code(stack: Stack, user: str | DemoUser | None, call: GrpcCall) -> grpc.StatusCode:
    """The status of ``call`` made as ``user`` (None: without a token)."""
    target = f"127.0.0.1:{stack.processes['catalog'].grpc_port}"
    anonymous = grpc.aio.insecure_channel(target)
    channel = stack.channel("catalog", user) if user is not None else anonymous
    try:
        await call(Stub(channel))
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    finally:
        await anonymous.close()
    return grpc.StatusCode.OK


async def http_status(http: httpx.AsyncClient, endpoint: HttpCall, headers: dict[str, str]) -> int:
    method, template, params, extra, _ = endpoint
    reply = await http.request(method, template.format(**params), headers=headers, **extra)
    return reply.status_code


def refused_or_not(allowed: bool, kind: str, code: grpc.StatusCode | int) -> str | None:
    """What is wrong with an answer: a read allowed must succeed; a change allowed must get past
    the guard (the admin's changes may still be refused by the catalog's rules); a refusal is
    PERMISSION_DENIED / 403."""
    denied = code in (grpc.StatusCode.PERMISSION_DENIED, 403)
    if not allowed:
        return None if denied else "expected a refusal"
    if code in (grpc.StatusCode.UNAUTHENTICATED, 401) or denied:
        return "expected to be allowed"
    if kind != "change" and code not in (grpc.StatusCode.OK, 200):
        return "expected the read to succeed"
    return None


async def test_every_role_against_every_catalog_endpoint(stack: Stack) -> None:
    await ready(stack)
    wrong: list[str] = []
    async with httpx.AsyncClient(base_url=stack.http_url("catalog"), timeout=30) as http:
        for caller, user in CALLERS.items():
            for name, (_, call, kind) in GRPC_ENDPOINTS.items():
                code = await grpc_code(stack, user, call)
                problem = refused_or_not(caller in MAY[kind], kind, code)
                if problem:
                    wrong.append(f"gRPC {name} by {caller}: {code.name}, {problem}")
            headers = {"Authorization": f"Bearer {stack.token(user)}"}
            for endpoint in HTTP_ENDPOINTS:
                status = await http_status(http, endpoint, headers)
                problem = refused_or_not(caller in MAY[endpoint[4]], endpoint[4], status)
                if problem:
                    wrong.append(f"HTTP {endpoint[:3]} by {caller}: {status}, {problem}")
    assert wrong == []


def test_the_rules_and_this_test_cover_every_catalog_endpoint(
    in_process: tuple[Access, DevIssuerServer, Any],
) -> None:
    """A method or route without a rule is refused at run time; this keeps the tables whole,
    and the table above exercising every one of them."""
    access, _, catalog = in_process
    methods = {m.name for m in pb.DESCRIPTOR.services_by_name["CatalogService"].methods}
    assert set(GRPC_RULES) == {f"/arc.catalog.v1.CatalogService/{m}" for m in methods}
    assert {method for method, _, _ in GRPC_ENDPOINTS.values()} == methods
    routes = {
        f"{method} {route.path}"
        for route in create_app(catalog, access).routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    assert routes == set(HTTP_RULES)
    assert {f"{m} {t}" for m, t, *_ in HTTP_ENDPOINTS} == routes - {"GET /healthz"}


async def test_no_token_is_unauthenticated_and_health_stays_open(stack: Stack) -> None:
    await ready(stack)
    for name, (_, call, _) in GRPC_ENDPOINTS.items():
        assert await grpc_code(stack, None, call) == grpc.StatusCode.UNAUTHENTICATED, name
    forged = stack.token("admin")[:-4] + "AAAA"
    async with httpx.AsyncClient(base_url=stack.http_url("catalog"), timeout=30) as http:
        for endpoint in HTTP_ENDPOINTS:
            for headers in ({}, {"Authorization": f"Bearer {forged}"}):
                assert await http_status(http, endpoint, headers) == 401, endpoint[:3]
        assert (await http.get("/healthz")).status_code == 200
    target = f"127.0.0.1:{stack.processes['catalog'].grpc_port}"
    async with grpc.aio.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = await health.Check(health_pb2.HealthCheckRequest(service=""))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_a_refusal_does_not_reveal_whether_the_record_exists(stack: Stack) -> None:
    await ready(stack)
    outsider = other("teacher-002", Role.TEACHER)
    client = Stub(stack.channel("catalog", outsider))
    answers = set()
    for call in (
        client.GetPerson(pb.GetRequest(id=STUDENT)),
        client.GetPerson(pb.GetRequest(id="stu-404-nobody")),
        client.GetSection(pb.GetRequest(id="sec-1")),
        client.GetSection(pb.GetRequest(id="sec-404")),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call
        answers.add((refused.value.code(), refused.value.details()))
    assert answers == {(grpc.StatusCode.PERMISSION_DENIED, "permission denied")}
    headers = {"Authorization": f"Bearer {stack.token(outsider)}"}
    async with httpx.AsyncClient(base_url=stack.http_url("catalog"), headers=headers) as http:
        bodies = {
            ((r := await http.get(path)).status_code, r.text)
            for path in (
                f"/api/v1/people/{STUDENT}",
                "/api/v1/people/stu-404-nobody",
                "/api/v1/sections/sec-1",
                "/api/v1/sections/sec-404",
            )
        }
    assert bodies == {(403, '{"detail":"permission denied"}')}


async def test_a_roster_shows_only_the_students_the_caller_may_see(stack: Stack) -> None:
    await ready(stack)
    sections = pb.ListSectionsRequest(student_id=STUDENT)
    own = await Stub(stack.channel("catalog", "student")).ListSections(sections)
    assert [(s.section_id, list(s.student_ids)) for s in own.sections] == [("sec-1", [STUDENT])]
    taught = await Stub(stack.channel("catalog", "teacher")).ListSections(sections)
    assert [list(s.student_ids) for s in taught.sections] == [[STUDENT, CLASSMATE]]
    guardians = pb.ListPeopleRequest(guardian_of=STUDENT)
    seen = await Stub(stack.channel("catalog", "student")).ListPeople(guardians)
    assert [(p.person_id, list(p.guardian_of)) for p in seen.people] == [
        ("guardian-001", [STUDENT])
    ]
    headers = {"Authorization": f"Bearer {stack.token('guardian')}"}
    async with httpx.AsyncClient(base_url=stack.http_url("catalog"), headers=headers) as http:
        reply = await http.get("/api/v1/sections", params={"student_id": STUDENT})
        assert [s["value"]["student_ids"] for s in reply.json()] == [[STUDENT]]
        own_record = await http.get("/api/v1/people/guardian-001")
        assert own_record.json()["value"]["guardian_of"] == [STUDENT, CLASSMATE]


def catalog_settings(stack: Stack) -> CatalogSettings:
    return CatalogSettings(data_dir=stack.data_dir)


async def test_every_change_records_who_made_it_and_from_which_client(stack: Stack) -> None:
    await ready(stack)
    await stack.catalog().DefineOutcome(
        pb.DefineOutcomeRequest(outcome_id="math.2", code="M.2", statement="I can divide")
    )
    headers = {"Authorization": f"Bearer {stack.token('admin')}"}
    async with httpx.AsyncClient(base_url=stack.http_url("catalog"), headers=headers) as http:
        saved = await http.put(
            "/api/v1/outcomes/math.2", json={"code": "M.2", "statement": "I can divide well"}
        )
        assert saved.status_code == 200, saved.text
    store = open_application(CatalogStore, catalog_settings(stack))
    try:
        notifications = store.recorder.select_notifications(0, 10_000)
        events = [store.mapper.to_domain_event(n) for n in notifications]
    finally:
        store.close()
    changes = [e for e in events if isinstance(e, Record.Defined | Record.Revised)]
    actors = [e.actor or {} for e in changes if e.key == "math.2"]
    assert [(a["by"], a["roles"], a["client_id"], a["via"]) for a in actors] == [
        (
            "admin-demo",
            ["network_admin"],
            "arc-dev",
            "grpc /arc.catalog.v1.CatalogService/DefineOutcome",
        ),
        ("admin-demo", ["network_admin"], "arc-dev", "http PUT /api/v1/outcomes/{outcome_id}"),
    ]
    assert all("127.0.0.1" in a["client_address"] and a["at"] for a in actors)
    # The world was built through the API too: every change has its author.
    assert all(e.actor is not None for e in changes)


async def test_reads_of_people_and_rosters_are_in_the_access_log(stack: Stack) -> None:
    await ready(stack)
    await Stub(stack.channel("catalog", "teacher")).GetPerson(pb.GetRequest(id=STUDENT))
    outsider = other("teacher-002", Role.TEACHER)
    assert (
        await grpc_code(stack, outsider, GRPC_ENDPOINTS["GetPerson stu-001"][1])
        == grpc.StatusCode.PERMISSION_DENIED
    )
    await Stub(stack.channel("catalog", "leader")).ListPeople(
        pb.ListPeopleRequest(school_id="sch-A")
    )
    log = AccessLog(create_engine(catalog_settings(stack)))
    entries = [(e.subject, e.action, e.student_id, e.allowed) for e in reversed(log.entries())]
    assert entries == [
        ("teacher-demo", "read_person", STUDENT, True),
        ("teacher-002", "read_person", STUDENT, False),
        ("leader-demo", "read_student", STUDENT, True),
        ("leader-demo", "read_student", CLASSMATE, True),
    ]


async def test_streamed_imports_are_refused_and_nothing_is_imported(stack: Stack) -> None:
    await ready(stack)
    package = json.dumps(CASE_PACKAGE).encode()
    for user, code in (
        ("teacher", grpc.StatusCode.PERMISSION_DENIED),
        (None, grpc.StatusCode.UNAUTHENTICATED),
    ):

        async def send(stub: Stub) -> Any:
            return await last_report(
                stub.ImportCase(iter([pb.ImportCaseRequest(package=package)]), timeout=30)
            )

        assert await grpc_code(stack, user, send) == code
    frameworks = await stack.catalog().ListFrameworks(pb.ListFrameworksRequest())
    assert [f.framework_id for f in frameworks.frameworks] == ["fw"]
    source = stack.data_dir / "case.json"
    source.write_bytes(package)
    refused = await asyncio.to_thread(import_case, stack, source, "teacher")
    assert refused.returncode == 1
    assert "permission denied" in refused.stderr
    done = await asyncio.to_thread(import_case, stack, source, "admin")
    assert done.returncode == 0, done.stderr


async def test_a_refused_upload_is_answered_once_the_client_has_sent_it(stack: Stack) -> None:
    """The guard refuses a leader's roster upload without using it, but answers only once the
    client has finished sending: grpcio's asyncio client reports INTERNAL instead of the
    refusal when one of its writes meets the answer on the way (grpc/grpc#36066). A client that
    never finishes is refused all the same, after HEAR_OUT_SECONDS."""
    await ready(stack)
    upload = Stub(stack.channel("catalog", "leader")).ImportOneRoster(timeout=30)
    await upload.write(pb.ImportOneRosterRequest(zip=b"PK first part"))
    answer = asyncio.ensure_future(upload.code())
    finished, _ = await asyncio.wait({answer}, timeout=HEAR_OUT_SECONDS / 4)
    assert not finished, "answered while the client was still sending"
    await upload.write(pb.ImportOneRosterRequest(zip=b"second part"))
    await upload.done_writing()
    assert await answer == grpc.StatusCode.PERMISSION_DENIED

    endless = Stub(stack.channel("catalog", "leader")).ImportOneRoster(timeout=30)
    await endless.write(pb.ImportOneRosterRequest(zip=b"PK never finished"))
    assert await endless.code() == grpc.StatusCode.PERMISSION_DENIED
    assert await endless.details() == "permission denied"


def import_case(stack: Stack, source: Path, user: str) -> subprocess.CompletedProcess[str]:
    """``arc-catalog import-case`` as ``user`` (their token in ARC_TOKEN)."""
    target = f"127.0.0.1:{stack.processes['catalog'].grpc_port}"
    return subprocess.run(
        [sys.executable, "-m", "arc_catalog", "import-case", str(source), "--target", target],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "ARC_TOKEN": stack.token(user), "COLUMNS": "120"},
        check=False,
    )


# --- a method or route without a rule is refused, even to a network admin ------------------


@pytest.fixture
def in_process(tmp_path: Path) -> Iterator[tuple[Access, DevIssuerServer, Any]]:
    issuer = DevIssuerServer(tmp_path / "keys").start()
    catalog = open_catalog(CatalogSettings(data_dir=tmp_path / "data"))
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'access.sqlite'}")
    verifier = TokenVerifier(
        TokenSettings(issuer=issuer.url, audience="arc", jwks_url=f"{issuer.url}/jwks.json")
    )
    relationships = CatalogRelationships(catalog.index)
    log = AccessLog(engine)
    yield Access(AccessGuard(verifier, relationships, log), relationships, log), issuer, catalog
    catalog.close()
    issuer.stop()


async def test_a_method_without_a_rule_is_refused_even_to_an_admin(
    in_process: tuple[Access, DevIssuerServer, Any],
) -> None:
    access, issuer, catalog = in_process
    rules = {m: r for m, r in GRPC_RULES.items() if not m.endswith("/ListScales")}
    servicer = CatalogServicer(catalog, lambda: None, access)
    server, port = await start_server(
        "127.0.0.1",
        0,
        [lambda s: catalog_pb2_grpc.add_CatalogServiceServicer_to_server(servicer, s)],
        ["arc.catalog.v1.CatalogService"],
        interceptors=[access.grpc(rules)],
    )
    admin = bearer_interceptors(issuer.issuer.token("admin"))
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", interceptors=admin) as channel:
            api = Stub(channel)
            await api.DefineScale(pb.DefineScaleRequest(scale_id="four", scale=ONE_TO_FOUR))
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await api.ListScales(pb.ListScalesRequest())
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert (await api.GetScale(pb.GetScaleRequest(scale_id="four"))).revision == 1
    finally:
        await server.stop(None)


async def test_a_route_without_a_rule_is_refused_even_to_an_admin(
    in_process: tuple[Access, DevIssuerServer, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    access, issuer, catalog = in_process
    monkeypatch.delitem(http_api.ACCESS_RULES, "GET /api/v1/scales")
    app = create_app(catalog, access)
    headers = {"Authorization": f"Bearer {issuer.issuer.token('admin')}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://arc", headers=headers
    ) as http:
        assert (await http.get("/api/v1/scales")).status_code == 403
        assert (await http.get("/api/v1/terms")).status_code == 200
