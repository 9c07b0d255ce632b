"""Who may see what in reporting: every route and gRPC method is one kind of access request
(``arc_platform.auth.policy``), checked by the platform's guard before anything is looked up;
a route or method without a rule is refused.

Lists (a section's heat map, report cards of a section or school, warnings, a school's
distribution) show only the students the caller may read, and each student shown is written
to the access log. Browsers carry the token in an HttpOnly, SameSite=Strict cookie set by the
sign-in page (``signin``); the API takes only the ``Authorization`` header.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from http.cookies import SimpleCookie

import sqlalchemy as sa
from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from arc_platform.auth import (
    PUBLIC,
    Access,
    AccessGuard,
    AccessLog,
    AccessRequest,
    Asked,
    GrpcRule,
    HttpRule,
    ReadCatalog,
    ReadDirectory,
    ReadOperations,
    ReadPerson,
    ReadSchool,
    ReadSection,
    ReadStudent,
    RecordEvidence,
    RelationshipsView,
    RequestContext,
    decide,
)
from arc_platform.auth.policy import NOTHING_KNOWN
from arc_platform.auth.tokens import TokenSettings, TokenVerifier

#: The cookie a signed-in browser sends its bearer token in.
COOKIE = "arc_token"
SERVICE = "/arc.reporting.v1.ReportingService"

GRPC_RULES: dict[str, GrpcRule] = {
    f"{SERVICE}/GetStudentOutcome": lambda request: ReadStudent(request.student_id),
    f"{SERVICE}/GetProjectionStatus": lambda _request: ReadOperations(),
}


def _student(request: Request) -> Asked:
    return ReadStudent(request.path_params["student_id"])


def _section(request: Request) -> Asked:
    return ReadSection(request.path_params["section_id"])


def _school(request: Request) -> Asked:
    return ReadSchool(request.path_params["school_id"])


def _person(param: str) -> HttpRule:
    return lambda request: ReadPerson(request.path_params[param])


def _scope(request: Request) -> Asked:
    """A school's or a section's lists; the whole network (or a course across it) when neither
    is named: that is for administrators and auditors (read as a directory-wide request)."""
    school = request.query_params.get("school_id") or None
    section = request.query_params.get("section_id") or None
    asked: list[AccessRequest] = []
    if school:
        asked.append(ReadSchool(school))
    if section:
        asked.append(ReadSection(section))
    return asked or ReadDirectory()


async def _class_entry(request: Request) -> Asked:
    """Evidence entry for the section: the caller must be allowed to enter evidence in that
    section for every student on its roster and every student the body names."""
    section = request.path_params["section_id"]
    named: set[str] = set()
    if request.method == "POST" and request.url.path.startswith("/api/"):
        try:
            body = json.loads(await request.body())
            named = {str(row["student_id"]) for row in body.get("rows", [])}
        except (ValueError, TypeError, KeyError, AttributeError):
            named = set()  # a malformed body: the roster decides, then validation answers
    roster = await asyncio.to_thread(_roster, request, section)
    students = sorted(named | roster)
    # An unknown section (or an empty roster) needs the right to enter evidence anywhere.
    return [RecordEvidence(s, section) for s in students] or RecordEvidence("", section)


def _roster(request: Request, section_id: str) -> set[str]:
    section = request.app.state.reporting.model.catalog(None).sections.get(section_id)
    return set(section.student_ids) if section is not None else set()


STUDENT = "/students/{student_id}"
CARDS = "/report-card"
HTTP_RULES: dict[str, HttpRule] = {
    "GET /healthz": PUBLIC,
    "GET /signin": PUBLIC,
    "POST /signin": PUBLIC,
    "POST /signout": PUBLIC,
    # the start page sends each person to their own view (everyone but integrators)
    "GET /": lambda _request: ReadCatalog(),
    "GET /api/v1/directory": lambda _request: ReadDirectory(),
    f"GET /api/v1{STUDENT}": _student,
    f"GET /api/v1{STUDENT}/outcomes/{{outcome_id}}": _student,
    f"GET /api/v1{STUDENT}{CARDS}": _student,
    "GET /api/v1/guardians/{guardian_id}": _person("guardian_id"),
    "GET /api/v1/teachers/{teacher_id}": _person("teacher_id"),
    "GET /api/v1/sections/{section_id}/heatmap": _section,
    "GET /api/v1/sections/{section_id}/report-cards": _section,
    "GET /api/v1/schools/{school_id}/report-cards": _school,
    "GET /api/v1/distribution": _scope,
    "GET /api/v1/warnings": _scope,
    "POST /api/v1/sections/{section_id}/evidence": _class_entry,
    f"GET {STUDENT}{CARDS}.{{kind}}": _student,
    "GET /sections/{section_id}/report-cards.{kind}": _section,
    "GET /schools/{school_id}/report-cards.{kind}": _school,
    f"GET {STUDENT}": _student,
    f"GET {STUDENT}/outcomes/{{outcome_id}}": _student,
    f"GET {STUDENT}/outcomes/{{outcome_id}}/chart.svg": _student,
    f"GET {STUDENT}{CARDS}": _student,
    "GET /sections/{section_id}/report-cards": _section,
    "GET /schools/{school_id}/report-cards": _school,
    "GET /families/{guardian_id}": _person("guardian_id"),
    "GET /teachers/{teacher_id}": _person("teacher_id"),
    "GET /sections/{section_id}": _section,
    "GET /sections/{section_id}/evidence": _class_entry,
    "POST /sections/{section_id}/evidence": _class_entry,
    "GET /leaders": _scope,
    "GET /warnings": _scope,
}


# --- what a list may show ----------------------------------------------------------------


def caller(request: Request) -> RequestContext:
    context: RequestContext = request.state.arc_request
    return context


def _may_read(access: Access, context: RequestContext, student: str) -> bool:
    principal = context.principal
    asked = ReadStudent(student)
    if decide(principal, asked, NOTHING_KNOWN).allowed:
        return True
    relations = access.relationships.relations(principal.subject, asked)
    return decide(principal, asked, relations).allowed


def _visible_and_logged(access: Access, context: RequestContext, students: list[str]) -> set[str]:
    shown = {s for s in students if _may_read(access, context, s)}
    access.log.record_reads(context, sorted(shown))
    return shown


async def visible(request: Request, students: Iterable[str]) -> set[str]:
    """The students among ``students`` the caller may read; each is logged as read."""
    access: Access = request.app.state.access
    unique = sorted(set(students))
    return await asyncio.to_thread(_visible_and_logged, access, caller(request), unique)


# --- browsers: the token cookie ------------------------------------------------------------


class TokenCookie:
    """ASGI middleware: a page request (not ``/api/``) without an ``Authorization`` header but
    with the sign-in cookie is treated as bearing that token. The API never reads the cookie,
    so no other site can make a browser call it with the user's rights."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/api/"):
            headers: list[tuple[bytes, bytes]] = list(scope["headers"])
            names = {name for name, _ in headers}
            token = _cookie_token(headers)
            if token and b"authorization" not in names:
                headers.append((b"authorization", f"Bearer {token}".encode()))
                scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)


def _cookie_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header: as if none
                continue
            if COOKIE in jar and jar[COOKIE].value:
                return jar[COOKIE].value
    return None


def local_access(engine: sa.Engine, issuer: str, audience: str = "arc") -> Access:
    """Access trusting ``issuer`` (its JWKS at ``/jwks.json``), with the relationships view and
    the access log in ``engine``, for in-process use (the bench, tests); whoever uses it feeds
    the relationships view the catalog's events (``relationships.apply``)."""
    view = RelationshipsView(engine)
    log = AccessLog(engine)
    settings = TokenSettings(issuer=issuer, audience=audience, jwks_url=f"{issuer}/jwks.json")
    return Access(AccessGuard(TokenVerifier(settings), view, log), view, log)
