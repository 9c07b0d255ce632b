"""HTTP/JSON adapter of evidence (FastAPI): record, correct and read evidence, import gradebook
CSV, and follow up xAPI statements that could not be mapped. Bad input answers 400 with every
field at fault: ``{"detail": ..., "violations": [{"field": ..., "description": ...}]}``, the
shape of every refusal (:mod:`arc_platform.http_errors`).

Every route but ``/healthz`` (and xAPI's ``/xapi/about``) needs a bearer token (401 without
one) and is checked against ``ACCESS_RULES`` (403 ``permission denied``): entering, voiding or
correcting evidence is recording evidence for each student named (in the batch's section when it
names one), a gradebook upload is a batch of every student its file names, reading attempts is
reading the student's records; xAPI statements are sent by tools (role ``tool``) and network
administrators. A body the route would refuse is refused (400, naming the fields) before access
is decided. ``recorded_by`` / ``voided_by`` default to the caller; naming someone else is a
network administrator's right (:mod:`arc_evidence.authorship`)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from arc_evidence.application import Contention, Correction, EvidenceApplication, Written
from arc_evidence.authorship import NotTheCaller, recorder
from arc_evidence.gradebook import ImportOptions, data_lines, student_ids
from arc_evidence.http_models import (
    AttemptIn,
    BatchIn,
    GradebookRefused,
    GradebookReport,
    SupersedeIn,
    VoidIn,
    attempt_json,
    gradebook_json,
    item_name,
    refused,
    statement_json,
)
from arc_evidence.imports import import_gradebook
from arc_evidence.rules import Problem, Rejected
from arc_evidence.statements import retry_mapping, unmapped_statements
from arc_evidence.xapi_http import XAPI_ACCESS_RULES, xapi_router
from arc_platform.auth import (
    PUBLIC,
    Access,
    AccessRequest,
    Asked,
    HttpRule,
    ReadCatalog,
    ReadOperations,
    ReadStatements,
    ReadStudent,
    RecordEvidence,
    SendStatements,
)
from arc_platform.http_errors import ErrorBody, documented_errors, install_error_handlers
from arc_platform.limits import Limits, check_count, limit_request_bodies

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
STATUS_CODES = {"invalid": 400, "not_found": 404, "conflict": 409}
#: Every refusal the API answers (``arc_platform.http_errors``' shape; xAPI's are its own).
ERRORS = (400, 401, 403, 404, 409, 413, 503)
#: Uploads: the larger body limit (``ARC_MAX_UPLOAD_BYTES``).
UPLOADS = ("/api/v1/imports/", "/xapi/statements")
#: The gradebook upload: the file itself as the body (so the document, and a fuzzer, see it).
CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "examples": {
                    "wide": {
                        "value": "student_id,sci.1,date\nstu-1,3,2026-09-01\nstu-2,EX,2026-09-02\n"
                    },
                    "long": {
                        "value": "student_id,outcome_id,score,status,assessed_at\n"
                        "stu-1,sci.1,2,,2026-09-01T10:00:00Z\nstu-2,sci.1,,missing,2026-09-01\n"
                    },
                    "semicolons": {"value": "student_id;sci.1;date\nstu-3;2,5;2026-09-02\n"},
                },
            }
        },
    }
}
GRADEBOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": GradebookReport, "description": "A dry run: what would be recorded"},
    201: {"model": GradebookReport, "description": "Every line recorded"},
    400: {
        "model": GradebookRefused | ErrorBody,
        "description": "Lines at fault (the report, each line's problem a violation), or a "
        "bad parameter or file (not UTF-8)",
    },
}
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
Traceparent = Annotated[str | None, Header()]
STUDENT = "/api/v1/students/{student_id}"


async def validated(request: Request, model: type[M]) -> M:
    """The JSON body as the route reads it; a body the route would refuse is refused here, with
    the same 400 naming every field, before any access decision (it reveals no record)."""
    data = await request.json() if await request.body() else None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors) from exc


async def _one_item(request: Request) -> AccessRequest:
    body = await validated(request, AttemptIn)
    return RecordEvidence(body.student_id.strip())


async def _class_batch(request: Request) -> list[AccessRequest]:
    body = await validated(request, BatchIn)
    return [RecordEvidence(row.student_id.strip(), body.section_id) for row in body.rows]


async def _gradebook(request: Request) -> Asked:
    """A batch of every student the file names (in ``section_id`` when given). A file that
    names none (no student column, unreadable) can record nothing: what it gets
    back is the check of its header against the catalog, which every role may read."""
    body = await request.body()
    try:
        named = student_ids(body.decode("utf-8-sig"))
    except UnicodeDecodeError:
        named = []
    section = request.query_params.get("section_id")
    return [RecordEvidence(student, section) for student in named] or ReadCatalog()


def _entry(request: Request) -> RecordEvidence:
    return RecordEvidence(request.path_params["student_id"])


ACCESS_RULES: dict[str, HttpRule] = {
    "GET /healthz": PUBLIC,
    "GET /api/v1/catalog-view": lambda _request: ReadOperations(),
    "POST /api/v1/attempts": _one_item,
    "POST /api/v1/attempts/batch": _class_batch,
    f"POST {STUDENT}/attempts/{{attempt_id}}/void": _entry,
    f"POST {STUDENT}/attempts/{{attempt_id}}/supersede": _entry,
    f"GET {STUDENT}/attempts": lambda request: ReadStudent(request.path_params["student_id"]),
    "POST /api/v1/imports/gradebook": _gradebook,
    "GET /api/v1/xapi/unmapped": lambda _request: ReadStatements(),
    "POST /api/v1/xapi/unmapped/{statement_id}/retry": lambda _request: SendStatements(),
    **XAPI_ACCESS_RULES,
}


def the_recorder(named: str, field: str = "recorded_by") -> str:
    """The caller, as the recorder (403 naming the field when they name someone else)."""
    try:
        return recorder(named, field)
    except NotTheCaller as exc:
        raise refused(403, [(exc.field, exc.description)]) from exc


def create_app(
    app: EvidenceApplication,
    access: Access,
    on_recorded: Callable[[], None],
    catalog_positions: Callable[[], dict[str, int]] = dict,
    limits: Limits | None = None,
) -> FastAPI:
    limits = limits or Limits()
    api = FastAPI(
        title="Mastery Arc evidence",
        version="1",
        dependencies=[access.http(ACCESS_RULES)],
        responses=documented_errors(*ERRORS),
    )
    limit_request_bodies(api, limits, UPLOADS)

    install_error_handlers(api, validation_status=400)

    def run(use_case: Callable[[], T], name: Callable[[Problem], str] = lambda p: p.field) -> T:
        try:
            result = use_case()
        except Rejected as exc:
            problems = list(dict.fromkeys((name(p), p.description) for p in exc.problems))
            raise refused(STATUS_CODES[exc.kind], problems) from exc
        except Contention as exc:
            raise refused(503, [("request", str(exc))]) from exc
        if isinstance(result, Written) and not result.replayed:
            on_recorded()
        return result

    @api.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    v1 = APIRouter(prefix="/api/v1")

    @v1.get("/catalog-view")
    def catalog_view() -> dict[str, Any]:
        """How far evidence's local view of the catalog has read (stream sequence), so that a
        client that just defined an outcome or a roster can wait for evidence to know it."""
        return {"positions": catalog_positions()}

    @v1.post("/attempts", status_code=201)
    def record(
        body: AttemptIn, key: IdempotencyKey = None, traceparent: Traceparent = None
    ) -> dict[str, Any]:
        """Record one student's work on one item (several outcomes, each with its score)."""
        draft = dataclasses.replace(body.draft(), recorded_by=the_recorder(body.recorded_by))
        written = run(
            lambda: app.record(draft, idempotency_key=key, traceparent=traceparent or ""),
            item_name,
        )
        ids = list(written.attempt_ids[0])
        return {"attempt_ids": ids, "position": written.position, "replayed": written.replayed}

    @v1.post("/attempts/batch", status_code=201)
    def record_batch(
        body: BatchIn, key: IdempotencyKey = None, traceparent: Traceparent = None
    ) -> dict[str, Any]:
        """Record a class's scores on one assessment: all rows, or none and every bad row."""
        check_count("rows", len(body.rows), limits.max_batch_items, "rows")
        body = body.model_copy(update={"recorded_by": the_recorder(body.recorded_by)})
        drafts = body.drafts()
        written = run(
            lambda: app.record_batch(
                drafts,
                section_id=body.section_id,
                idempotency_key=key,
                traceparent=traceparent or "",
            ),
            body.name,
        )
        rows = [
            {"student_id": d.student_id.strip(), "attempt_ids": list(ids)}
            for d, ids in zip(drafts, written.attempt_ids, strict=True)
        ]
        return {"rows": rows, "position": written.position, "replayed": written.replayed}

    @v1.post("/students/{student_id}/attempts/{attempt_id}/void")
    def void(
        student_id: str,
        attempt_id: str,
        body: VoidIn,
        key: IdempotencyKey = None,
        traceparent: Traceparent = None,
    ) -> dict[str, Any]:
        """The attempt stops counting; it stays in the history with the reason and actor."""
        voided_by = the_recorder(body.voided_by, "voided_by")
        written = run(
            lambda: app.void(
                student_id,
                attempt_id,
                body.reason,
                voided_by,
                idempotency_key=key,
                traceparent=traceparent or "",
            )
        )
        return {"position": written.position, "replayed": written.replayed}

    @v1.post("/students/{student_id}/attempts/{attempt_id}/supersede", status_code=201)
    def supersede(
        student_id: str,
        attempt_id: str,
        body: SupersedeIn,
        key: IdempotencyKey = None,
        traceparent: Traceparent = None,
    ) -> dict[str, Any]:
        """Record a corrected attempt replacing this one (same student and outcome)."""
        correction = Correction(
            body.reason,
            the_recorder(body.recorded_by),
            body.status,
            body.score,
            body.assessed_at,
            body.comment,
        )
        written = run(
            lambda: app.supersede(
                student_id,
                attempt_id,
                correction,
                idempotency_key=key,
                traceparent=traceparent or "",
            ),
            lambda p: p.field,
        )
        return {
            "attempt_id": written.attempt_ids[0][0],
            "supersedes": attempt_id,
            "position": written.position,
            "replayed": written.replayed,
        }

    @v1.get("/students/{student_id}/attempts")
    def history(
        student_id: str,
        outcome_id: str | None = None,
        assessed_from: datetime | None = None,
        assessed_until: datetime | None = None,
        include_voided: bool = False,
    ) -> dict[str, Any]:
        """The student's evidence in the order it was recorded; ``assessed_from`` inclusive,
        ``assessed_until`` exclusive; voided and superseded attempts with include_voided."""
        for name, value in (("assessed_from", assessed_from), ("assessed_until", assessed_until)):
            if value is not None and value.tzinfo is None:
                raise refused(400, [(name, "needs a time zone (e.g. 2026-09-01T00:00:00Z)")])
        found = app.student_history(
            student_id, outcome_id, assessed_from, assessed_until, include_voided
        )
        return {"student_id": student_id, "attempts": [attempt_json(s) for s in found]}

    @v1.post("/imports/gradebook", responses=GRADEBOOK_RESPONSES, openapi_extra=CSV_BODY)
    async def import_csv(
        request: Request,
        recorded_by: Annotated[
            str, Query(description="You (the default); only a network administrator names another")
        ] = "",
        section_id: Annotated[
            str | None, Query(description="Every student must be on this section's roster")
        ] = None,
        dry_run: bool = False,
        assessed_at: datetime | None = None,
        assessment_ref: str | None = None,
        assessment_kind: str = "test",
        weight: Decimal = Decimal(1),
        tags: Annotated[list[str] | None, Query()] = None,
        timezone: str = "UTC",
        key: IdempotencyKey = None,
    ) -> JSONResponse:
        """A gradebook export as the request body (text/csv): ``dry_run=true`` reports what
        would be recorded and every line at fault; otherwise every line is recorded, or none."""
        recorded_by = the_recorder(recorded_by)
        body = await request.body()
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise refused(400, [("body", f"not UTF-8 text: {exc.reason}")]) from exc
        check_count("body", data_lines(text), limits.max_csv_rows, "lines")
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise refused(400, [("timezone", f"unknown time zone {timezone!r}")]) from exc
        if assessed_at is not None and assessed_at.tzinfo is None:
            assessed_at = assessed_at.replace(tzinfo=zone)
        options = ImportOptions(
            recorded_by=recorded_by,
            assessed_at=assessed_at,
            assessment_ref=assessment_ref,
            assessment_kind=assessment_kind,
            weight=weight,
            tags=tuple(tags or ()),
            timezone=zone,
        )

        def use_case() -> Any:
            return import_gradebook(
                app, text, options, dry_run=dry_run, idempotency_key=key, section_id=section_id
            )

        report = await asyncio.to_thread(run, use_case)
        if report.recorded and not report.replayed:
            on_recorded()
        status = 400 if report.errors else (201 if report.recorded else 200)
        return JSONResponse(gradebook_json(report), status)

    @v1.get("/xapi/unmapped")
    def unmapped(
        after: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=500)] = 100
    ) -> dict[str, Any]:
        """Statements stored but not turned into attempts, with the reasons; page with
        ``after`` = the previous answer's ``next_after``."""
        found, position = unmapped_statements(app, after, limit)
        return {"statements": [statement_json(s) for s in found], "next_after": position}

    @v1.post("/xapi/unmapped/{statement_id}/retry")
    def retry(statement_id: str, traceparent: Traceparent = None) -> dict[str, Any]:
        """Map an unmapped statement again, e.g. after its outcome was aligned."""
        found = run(lambda: retry_mapping(app, statement_id, traceparent or ""))
        on_recorded()
        return statement_json(found)

    api.include_router(v1)
    api.include_router(xapi_router(app, on_recorded, access, limits.max_batch_items))
    return api
