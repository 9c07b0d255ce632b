"""HTTP/JSON adapter of the catalog: the same commands and queries as gRPC, documented by
FastAPI's OpenAPI document at ``/openapi.json`` (and ``/docs``). No catalog rules here.

Decimals travel as JSON strings ("2.5") in replies and are accepted as numbers or strings.
Rule violations answer 422 with every field at fault; unknown entries 404; a concurrent
change 409. Nothing is written by a refused request. Every refusal has one shape:
``{"detail": "...", "violations": [{"field": ..., "description": ...}]}``
(``arc_platform.http_errors``).

Every route but ``/healthz`` needs a bearer token (401 without one) and is checked against
``ACCESS_RULES`` (403 ``permission denied``): the definitions (scales, outcomes, frameworks,
policies, courses, terms, schools, settings) are the network's published grading policy and
readable by every authenticated person; people, sections and rosters are read like student
records; every change is a network administrator's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from eventsourcing.persistence import IntegrityError
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from arc_catalog.access import (
    guardianships_cut_to,
    people_asked,
    sections_asked,
    students_among,
    students_in,
    visible_rosters,
)
from arc_catalog.application import Catalog
from arc_catalog.core import Saved, Versioned
from arc_catalog.domain.errors import InvalidDefinition, NotFound
from arc_catalog.domain.outcomes import FrameworkDefinition, Group, OutcomeDefinition
from arc_catalog.domain.policies import EffectivePolicy, GradeBand, Policy
from arc_catalog.domain.records import OutcomeState
from arc_catalog.domain.rosters import Course, Org, Person, Section, Term
from arc_catalog.domain.scales import ProficiencyScale
from arc_catalog.domain.settings import NetworkSettings
from arc_catalog.grpc_api import unzip
from arc_catalog.usecases.imports import ImportResult
from arc_platform.auth import (
    PUBLIC,
    Access,
    AccessRequest,
    ChangeCatalog,
    ForgetStudent,
    HttpRule,
    ReadCatalog,
    ReadPerson,
    ReadSection,
    current_request,
)
from arc_platform.http_errors import documented_errors, error_response, install_error_handlers
from arc_platform.limits import Limits, limit_request_bodies
from arc_platform.telemetry import current_traceparent

T = TypeVar("T")
Revision = Annotated[int | None, Query(ge=1, description="A past revision; omit for the current")]


def _definitions(_request: Request) -> ReadCatalog:
    return ReadCatalog()


def _change(_request: Request) -> ChangeCatalog:
    return ChangeCatalog()


def _sections(request: Request) -> AccessRequest:
    query = request.query_params
    return sections_asked(query.get("student_id"), query.get("teacher_id"), query.get("school_id"))


def _people(request: Request) -> AccessRequest:
    return people_asked(
        request.query_params.get("guardian_of"), request.query_params.get("school_id")
    )


ACCESS_RULES: dict[str, HttpRule] = {
    "GET /healthz": PUBLIC,
    # The grading policy: open to every authenticated person.
    "GET /api/v1/settings": _definitions,
    "GET /api/v1/scales": _definitions,
    "GET /api/v1/scales/{scale_id}": _definitions,
    "GET /api/v1/outcomes": _definitions,
    "GET /api/v1/outcomes/{outcome_id}": _definitions,
    "GET /api/v1/frameworks": _definitions,
    "GET /api/v1/frameworks/{framework_id}": _definitions,
    "GET /api/v1/frameworks/{framework_id}/case": _definitions,
    "GET /api/v1/policies": _definitions,
    "GET /api/v1/policies/resolve": _definitions,
    "GET /api/v1/policies/{policy_id}": _definitions,
    "GET /api/v1/courses": _definitions,
    "GET /api/v1/courses/{course_id}": _definitions,
    "GET /api/v1/terms": _definitions,
    "GET /api/v1/terms/{term_id}": _definitions,
    "GET /api/v1/orgs": _definitions,
    "GET /api/v1/orgs/{org_id}": _definitions,
    # People, sections and rosters: protected like student records.
    "GET /api/v1/people": _people,
    "GET /api/v1/people/{person_id}": lambda r: ReadPerson(r.path_params["person_id"]),
    "GET /api/v1/sections": _sections,
    "GET /api/v1/sections/{section_id}": lambda r: ReadSection(r.path_params["section_id"]),
    # Changes: network administrators only.
    "PUT /api/v1/settings": _change,
    "PUT /api/v1/scales/{scale_id}": _change,
    "POST /api/v1/outcomes": _change,
    "PUT /api/v1/outcomes/{outcome_id}": _change,
    "POST /api/v1/outcomes/{outcome_id}/retire": _change,
    "PUT /api/v1/frameworks/{framework_id}": _change,
    "PUT /api/v1/frameworks/{framework_id}/groups/{group_id}": _change,
    "DELETE /api/v1/frameworks/{framework_id}/groups/{group_id}": _change,
    "POST /api/v1/imports/case": _change,
    "POST /api/v1/imports/oneroster": _change,
    "PUT /api/v1/policies/network": _change,
    "PUT /api/v1/policies/{scope}/{scope_id}": _change,
    "DELETE /api/v1/policies/{scope}/{scope_id}": _change,
    "PUT /api/v1/courses/{course_id}": _change,
    "PUT /api/v1/terms/{term_id}": _change,
    "PUT /api/v1/orgs/{org_id}": _change,
    "PUT /api/v1/sections/{section_id}": _change,
    "POST /api/v1/sections/{section_id}/enrollments": _change,
    "DELETE /api/v1/sections/{section_id}/enrollments/{person_id}": _change,
    "PUT /api/v1/people/{person_id}": _change,
    "POST /api/v1/people/{person_id}/forget": lambda r: ForgetStudent(r.path_params["person_id"]),
}


class OutcomeInput(BaseModel):
    """An outcome's whole definition. Give ``scale_id`` (a defined scale) or an inline
    ``scale`` (defined under ``scale_id`` or its name, or reused if identical), or neither to
    keep the outcome's scale or use the network default."""

    code: str
    statement: str
    scale_id: str = ""
    scale: ProficiencyScale | None = None
    framework_id: str | None = None
    parent_id: str | None = None
    description: str | None = None
    grade_levels: tuple[str, ...] = ()
    subject_area: str | None = None
    tags: tuple[str, ...] = Field((), examples=[["academic"]])
    aligned_to: tuple[str, ...] = ()


class FrameworkInput(BaseModel):
    title: str
    description: str | None = None
    subject_area: str | None = None
    version: str | None = None
    adoption_status: str | None = None


class GroupInput(BaseModel):
    code: str = ""
    title: str
    description: str | None = None
    parent_id: str | None = None


class PolicyInput(BaseModel):
    method: str = Field(examples=["decaying_average"])
    params: dict[str, str] = Field(default_factory=dict, examples=[{"w": "0.65"}])
    excluded_evidence_tags: tuple[str, ...] = ()
    academic_outcome_tags: tuple[str, ...] = ()
    report_card: tuple[GradeBand, ...] = ()


class EnrollmentInput(BaseModel):
    person_id: str
    role: Literal["student", "teacher"] = "student"


@dataclass(frozen=True)
class TreeEntry:
    depth: int
    outcome: Versioned[OutcomeState]


@dataclass(frozen=True)
class TreeOut:
    framework: Versioned[FrameworkDefinition]
    outcomes: list[TreeEntry]


def create_app(
    catalog: Catalog,
    access: Access,
    on_recorded: Callable[[], None] = lambda: None,
    limits: Limits | None = None,
) -> FastAPI:
    app = FastAPI(
        title="Mastery Arc catalog",
        version="1",
        description=__doc__,
        dependencies=[access.http(ACCESS_RULES)],
        responses=documented_errors(401, 403, 404, 409, 413, 422, 503),
    )
    # CASE packages and OneRoster archives may be larger than other bodies.
    limit_request_bodies(app, limits or Limits(), uploads=("/api/v1/imports/",))

    async def query(work: Callable[[], T]) -> T:
        return await asyncio.to_thread(work)

    async def log_reads(student_ids: list[str]) -> None:
        """The students whose records a reply showed go to the access log."""
        if student_ids:
            await asyncio.to_thread(access.log.record_reads, current_request(), student_ids)

    async def command(work: Callable[[str], Saved]) -> Saved:
        traceparent = current_traceparent()
        saved = await asyncio.to_thread(work, traceparent)
        if saved.position is not None:
            on_recorded()
        return saved

    install_error_handlers(app)

    @app.exception_handler(InvalidDefinition)
    async def invalid(_: Request, exc: InvalidDefinition) -> JSONResponse:
        return error_response(422, [(v.field, v.description) for v in exc.violations])

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return error_response(404, [(exc.field, str(exc))])

    @app.exception_handler(IntegrityError)
    async def conflict(_: Request, exc: IntegrityError) -> JSONResponse:
        return error_response(409, [], "changed concurrently by another writer; try again")

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # --- settings and scales --------------------------------------------------------------

    @app.get("/api/v1/settings", tags=["settings"])
    async def get_settings() -> Versioned[NetworkSettings]:
        """Network name, default scale, and the UI labels (e.g. outcome → "competency")."""
        return await query(catalog.settings)

    @app.put("/api/v1/settings", tags=["settings"])
    async def put_settings(settings: NetworkSettings) -> Saved:
        return await command(lambda tp: catalog.set_settings(settings, tp))

    @app.get("/api/v1/scales", tags=["scales"])
    async def list_scales() -> list[Versioned[ProficiencyScale]]:
        return await query(catalog.list_scales)

    @app.get("/api/v1/scales/{scale_id}", tags=["scales"])
    async def get_scale(scale_id: str, revision: Revision = None) -> Versioned[ProficiencyScale]:
        return await query(lambda: catalog.get_scale(scale_id, revision))

    @app.put("/api/v1/scales/{scale_id}", tags=["scales"])
    async def put_scale(scale_id: str, scale: ProficiencyScale) -> Saved:
        """Define or revise a scale; a revision also revises every outcome on it."""
        return await command(lambda tp: catalog.define_scale(scale_id, scale, tp))

    # --- outcomes and frameworks -------------------------------------------------------------

    def define_outcome(outcome_id: str, body: OutcomeInput, tp: str) -> Saved:
        fields = body.model_dump(exclude={"scale"})
        definition = OutcomeDefinition(**fields)
        return catalog.define_outcome(outcome_id, definition, body.scale, tp)

    @app.get("/api/v1/outcomes", tags=["outcomes"])
    async def list_outcomes(
        framework_id: str | None = None,
        scale_id: str | None = None,
        tag: str | None = None,
        include_retired: bool = False,
    ) -> list[Versioned[OutcomeState]]:
        return await query(
            lambda: catalog.list_outcomes(framework_id, scale_id, tag, include_retired)
        )

    @app.post("/api/v1/outcomes", tags=["outcomes"])
    async def post_outcome(body: OutcomeInput) -> Saved:
        """Define an outcome whose id is made from its code (``ISTE 1.3.a`` → ``iste-1.3.a``)."""
        return await command(lambda tp: define_outcome("", body, tp))

    @app.get("/api/v1/outcomes/{outcome_id}", tags=["outcomes"])
    async def get_outcome(outcome_id: str, revision: Revision = None) -> Versioned[OutcomeState]:
        return await query(lambda: catalog.get_outcome(outcome_id, revision))

    @app.put("/api/v1/outcomes/{outcome_id}", tags=["outcomes"])
    async def put_outcome(outcome_id: str, body: OutcomeInput) -> Saved:
        return await command(lambda tp: define_outcome(outcome_id, body, tp))

    @app.post("/api/v1/outcomes/{outcome_id}/retire", tags=["outcomes"])
    async def retire_outcome(outcome_id: str) -> Saved:
        return await command(lambda tp: catalog.retire_outcome(outcome_id, tp))

    @app.get("/api/v1/frameworks", tags=["frameworks"])
    async def list_frameworks() -> list[Versioned[FrameworkDefinition]]:
        return await query(catalog.list_frameworks)

    @app.get("/api/v1/frameworks/{framework_id}", tags=["frameworks"])
    async def get_framework(framework_id: str) -> TreeOut:
        """The framework with its groups, and its outcomes parents first, with their depth."""
        tree = await query(lambda: catalog.get_framework(framework_id))
        return TreeOut(tree.framework, [TreeEntry(d, o) for d, o in tree.outcomes])

    @app.put("/api/v1/frameworks/{framework_id}", tags=["frameworks"])
    async def put_framework(framework_id: str, body: FrameworkInput) -> Saved:
        definition = FrameworkDefinition(**body.model_dump())
        return await command(lambda tp: catalog.define_framework(framework_id, definition, tp))

    @app.put("/api/v1/frameworks/{framework_id}/groups/{group_id}", tags=["frameworks"])
    async def put_group(framework_id: str, group_id: str, body: GroupInput) -> Saved:
        group = Group(group_id=group_id, **{**body.model_dump(), "code": body.code or group_id})
        return await command(lambda tp: catalog.define_group(framework_id, group, tp))

    @app.delete("/api/v1/frameworks/{framework_id}/groups/{group_id}", tags=["frameworks"])
    async def delete_group(framework_id: str, group_id: str) -> Saved:
        return await command(lambda tp: catalog.remove_group(framework_id, group_id, tp))

    @app.get("/api/v1/frameworks/{framework_id}/case", tags=["frameworks"])
    async def export_case(framework_id: str) -> dict[str, Any]:
        """The framework as a CASE 1.0 package (CFPackage JSON)."""
        return await query(lambda: catalog.export_case(framework_id))

    # --- imports ---------------------------------------------------------------------------

    @app.post(
        "/api/v1/imports/case",
        tags=["imports"],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}}},
                "description": "A CASE 1.0 CFPackage",
            }
        },
    )
    async def import_case(
        request: Request, framework_id: str | None = None, scale_id: str | None = None
    ) -> ImportResult:
        """Import a CASE package, all or nothing; a newer version records revisions."""
        content = await request.body()
        traceparent = current_traceparent()
        result = await query(
            lambda: catalog.import_case(content, framework_id, scale_id, traceparent)
        )
        if result.position is not None:
            on_recorded()
        return result

    @app.post(
        "/api/v1/imports/oneroster",
        tags=["imports"],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
                "description": "A OneRoster 1.1 or 1.2 CSV bulk set, zipped",
            }
        },
    )
    async def import_oneroster(request: Request) -> ImportResult:
        """Import a OneRoster bulk set, all or nothing; bad rows are reported by file, line
        and column."""
        archive = await request.body()
        traceparent = current_traceparent()
        result = await query(lambda: catalog.import_oneroster(unzip(archive), traceparent))
        if result.position is not None:
            on_recorded()
        return result

    # --- policies ----------------------------------------------------------------------------

    def set_policy(scope: str, scope_id: str | None, body: PolicyInput, tp: str) -> Saved:
        # dict(body), not model_dump(): the report card's bands stay GradeBands, not dicts
        policy = Policy(scope=scope, scope_id=scope_id, **dict(body))  # type: ignore[arg-type]
        return catalog.set_policy(policy, tp)

    @app.get("/api/v1/policies", tags=["policies"])
    async def list_policies(
        scope: Literal["network", "course", "outcome"] | None = None,
    ) -> list[Versioned[Policy]]:
        return await query(lambda: catalog.list_policies(scope))

    @app.get("/api/v1/policies/resolve", tags=["policies"])
    async def resolve_policy(
        course_id: str | None = None, outcome_id: str | None = None
    ) -> EffectivePolicy:
        """The policy that applies to an outcome in a course: outcome over course over
        network, and where each part comes from."""
        return await query(lambda: catalog.effective_policy(course_id, outcome_id))

    @app.get("/api/v1/policies/{policy_id}", tags=["policies"])
    async def get_policy(policy_id: str, revision: Revision = None) -> Versioned[Policy]:
        return await query(lambda: catalog.get_policy(policy_id, revision))

    @app.put("/api/v1/policies/network", tags=["policies"])
    async def put_network_policy(body: PolicyInput) -> Saved:
        return await command(lambda tp: set_policy("network", None, body, tp))

    @app.put("/api/v1/policies/{scope}/{scope_id}", tags=["policies"])
    async def put_policy(
        scope: Literal["course", "outcome"], scope_id: str, body: PolicyInput
    ) -> Saved:
        return await command(lambda tp: set_policy(scope, scope_id, body, tp))

    @app.delete("/api/v1/policies/{scope}/{scope_id}", tags=["policies"])
    async def delete_policy(scope: Literal["course", "outcome"], scope_id: str) -> Saved:
        """Remove an override: the wider policy applies again."""
        return await command(lambda tp: catalog.retire_policy(scope, scope_id, tp))

    # --- courses, terms, schools, sections, people ----------------------------------------------

    @app.get("/api/v1/courses", tags=["courses"])
    async def list_courses(
        school_id: str | None = None, outcome_id: str | None = None
    ) -> list[Versioned[Course]]:
        return await query(lambda: catalog.list_courses(school_id, outcome_id))

    @app.get("/api/v1/courses/{course_id}", tags=["courses"])
    async def get_course(course_id: str, revision: Revision = None) -> Versioned[Course]:
        return await query(lambda: catalog.get_course(course_id, revision))

    @app.put("/api/v1/courses/{course_id}", tags=["courses"])
    async def put_course(course_id: str, course: Course) -> Saved:
        """A course and the outcomes it assesses (``power: true`` for power outcomes)."""
        return await command(lambda tp: catalog.define_course(course_id, course, tp))

    @app.get("/api/v1/terms", tags=["terms"])
    async def list_terms() -> list[Versioned[Term]]:
        return await query(catalog.list_terms)

    @app.get("/api/v1/terms/{term_id}", tags=["terms"])
    async def get_term(term_id: str, revision: Revision = None) -> Versioned[Term]:
        return await query(lambda: catalog.get_term(term_id, revision))

    @app.put("/api/v1/terms/{term_id}", tags=["terms"])
    async def put_term(term_id: str, term: Term) -> Saved:
        return await command(lambda tp: catalog.define_term(term_id, term, tp))

    @app.get("/api/v1/orgs", tags=["orgs"])
    async def list_orgs() -> list[Versioned[Org]]:
        return await query(catalog.list_orgs)

    @app.get("/api/v1/orgs/{org_id}", tags=["orgs"])
    async def get_org(org_id: str, revision: Revision = None) -> Versioned[Org]:
        return await query(lambda: catalog.get_org(org_id, revision))

    @app.put("/api/v1/orgs/{org_id}", tags=["orgs"])
    async def put_org(org_id: str, org: Org) -> Saved:
        return await command(lambda tp: catalog.define_org(org_id, org, tp))

    @app.get("/api/v1/sections", tags=["sections"])
    async def list_sections(
        course_id: str | None = None,
        term_id: str | None = None,
        school_id: str | None = None,
        teacher_id: str | None = None,
        student_id: str | None = None,
    ) -> list[Versioned[Section]]:
        """Sections, e.g. those a teacher teaches or a student is enrolled in. Filter by a
        student, a teacher or a school you may read (only administrators and auditors list
        every section); a roster shows only the students you may see."""
        found = await query(
            lambda: visible_rosters(
                access.relationships,
                current_request(),
                catalog.list_sections(course_id, term_id, school_id, teacher_id, student_id),
                student_id,
            )
        )
        await log_reads(students_in(found))
        return found

    @app.get("/api/v1/sections/{section_id}", tags=["sections"])
    async def get_section(section_id: str, revision: Revision = None) -> Versioned[Section]:
        found = await query(lambda: catalog.get_section(section_id, revision))
        await log_reads(students_in([found]))
        return found

    @app.put("/api/v1/sections/{section_id}", tags=["sections"])
    async def put_section(section_id: str, section: Section) -> Saved:
        return await command(lambda tp: catalog.define_section(section_id, section, tp))

    @app.post("/api/v1/sections/{section_id}/enrollments", tags=["sections"])
    async def enroll(section_id: str, body: EnrollmentInput) -> Saved:
        return await command(lambda tp: catalog.enroll(section_id, body.person_id, body.role, tp))

    @app.delete("/api/v1/sections/{section_id}/enrollments/{person_id}", tags=["sections"])
    async def unenroll(section_id: str, person_id: str) -> Saved:
        return await command(lambda tp: catalog.unenroll(section_id, person_id, tp))

    @app.get("/api/v1/people", tags=["people"])
    async def list_people(
        role: Literal["student", "teacher", "guardian", "administrator"] | None = None,
        school_id: str | None = None,
        guardian_of: Annotated[str | None, Query(description="A student: their guardians")] = None,
        after: str = "",
        limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    ) -> list[Versioned[Person]]:
        """People: a student's guardians, or a school's people (administrators and auditors
        may list everyone)."""
        found = await query(
            lambda: catalog.list_people(role, school_id, guardian_of, after=after, limit=limit)
        )
        await log_reads(students_among(found))
        return guardianships_cut_to(found, guardian_of)

    @app.get("/api/v1/people/{person_id}", tags=["people"])
    async def get_person(person_id: str, revision: Revision = None) -> Versioned[Person]:
        return await query(lambda: catalog.get_person(person_id, revision))

    @app.put("/api/v1/people/{person_id}", tags=["people"])
    async def put_person(person_id: str, person: Person) -> Saved:
        """A person; a guardian lists the students they are guardian of."""
        return await command(lambda tp: catalog.define_person(person_id, person, tp))

    @app.post("/api/v1/people/{person_id}/forget", tags=["people"])
    async def forget_student(person_id: str) -> Saved:
        """Right to erasure: the student's key is deleted, so their names, and comments about
        them, read as "[removed]" everywhere; their events stay (pseudonymous ids, scores)
        and nothing more can be recorded about them. Network administrators only."""
        return await command(lambda tp: catalog.forget_student(person_id, tp))

    return app


__all__ = ["create_app"]
