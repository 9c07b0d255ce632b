"""Reporting over HTTP: the JSON API (``/api/v1/…``, OpenAPI at ``/docs``) and the web pages
(``pages``), in one FastAPI app. Route handlers stay thin: they parse, call ``Reporting``, and
render. Every route is checked by the access guard (``access.HTTP_RULES``), in one place."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.encoders import decimal_encoder, jsonable_encoder
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import AwareDatetime, BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from arc_platform import heap
from arc_platform.auth import Access
from arc_platform.http_errors import (
    documented_errors,
    error_response,
    http_exception_response,
    install_error_handlers,
)
from arc_platform.limits import Limits, limit_request_bodies
from arc_reporting.access import HTTP_RULES, TokenCookie
from arc_reporting.clients import (
    ClassEntry,
    EntryRejected,
    EntryRow,
    EvidenceUnavailable,
    ScoreCell,
)
from arc_reporting.domain.asof import BadField, parse_moment
from arc_reporting.domain.heatmap import HeatMapOptions
from arc_reporting.exports import cards_csv, cards_pdf
from arc_reporting.forms import FormErrors
from arc_reporting.forwarding import remember_bearer
from arc_reporting.lists import (
    cards_shown,
    family_shown,
    leader_logged,
    section_shown,
    warnings_shown,
)
from arc_reporting.read_model import ReportingReadModel
from arc_reporting.service import Reporting
from arc_reporting.views.common import NotFound

STATIC = Path(__file__).parent / "static"


def reporting(request: Request) -> Reporting:
    found: Reporting = request.app.state.reporting
    return found


def as_of(
    as_of: Annotated[
        str | None,
        Query(description="Show it as it stood then: a date (end of that day, UTC) or date-time."),
    ] = None,
) -> datetime | None:
    return parse_moment(as_of, "as_of")


def heatmap_options(
    sort: str = "name",
    order: str = "asc",
    power_only: bool = False,
    tag: str | None = None,
    q: str | None = None,
    status: str | None = None,
) -> HeatMapOptions:
    if order not in ("asc", "desc"):
        raise BadField("order", f"{order!r}: asc or desc")
    return HeatMapOptions(sort, order == "desc", power_only, tag or None, q or None, status or None)


Service = Annotated[Reporting, Depends(reporting)]
AsOf = Annotated[datetime | None, Depends(as_of)]
Options = Annotated[HeatMapOptions, Depends(heatmap_options)]

api = APIRouter(
    prefix="/api/v1",
    tags=["reporting"],
    responses=documented_errors(401, 403, 404, 413, 422, 503),
)


def public(view: Any, *hidden: str, **extra: Any) -> Response:
    """A view as JSON, without the internal fields named in ``hidden`` and with ``extra``
    fields added: what ``jsonable_encoder`` gives for the types views are made of, written by
    orjson (dataclasses, lists, tuples, dicts, strings, numbers, dates and enums natively;
    decimals as FastAPI's ``decimal_encoder`` gives them, an int when whole; anything else
    handed to ``jsonable_encoder``). Why: walking a heat map's 2,100 cells in Python was most of
    its JSON's time, as much as rendering its page."""
    fields = {name: getattr(view, name) for name in _field_names(view) if name not in hidden}
    fields.update(extra)
    body = orjson.dumps(fields, default=_json_default, option=orjson.OPT_NON_STR_KEYS)
    return Response(body, media_type="application/json")


def _json_default(value: Any) -> Any:
    if type(value) is Decimal:
        return _json_decimal(str(value))
    return jsonable_encoder(value)


@functools.lru_cache(maxsize=4096)
def _json_decimal(text: str) -> int | float:
    """``decimal_encoder`` of the decimal written ``text`` (the written form keeps the exponent
    that decides between int and float). A page's decimals are a few levels and scores repeated
    thousands of times; the encoder takes five times as long as this lookup."""
    return decimal_encoder(Decimal(text))


#: Field names per dataclass, looked up once per type.
_FIELDS: dict[type, tuple[str, ...]] = {}


def _field_names(view: Any) -> tuple[str, ...]:
    kind = type(view)
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(view))
    return names


@api.get("/directory")
async def directory_json(service: Service, at: AsOf) -> Any:
    """Schools, sections, students, teachers and guardians known (as of a moment)."""
    return public(await service.directory(at))


@api.get("/students/{student_id}")
async def student_json(student_id: str, service: Service, at: AsOf) -> Any:
    """Every outcome of each course with the level, why, and what is next."""
    return public(await service.student(student_id, at))


@api.get("/students/{student_id}/outcomes/{outcome_id}")
async def student_outcome_json(student_id: str, outcome_id: str, service: Service, at: AsOf) -> Any:
    """Where the student is on the outcome, every attempt (marked when not counted, with the
    reason) and level change so far, and mastery's explanation."""
    detail = await service.outcome(student_id, outcome_id, at)
    return public(
        detail,
        "history",
        "shown",
        outcome_code=detail.code,
        outcome_statement=detail.statement,
        level=detail.line.value,
        level_label=detail.line.level_label,
        mastered=detail.line.status == "mastered",
    )


@api.get("/students/{student_id}/report-card")
async def report_card_json(student_id: str, service: Service, at: AsOf) -> Any:
    return public(await service.report_card(student_id, at))


@api.get("/guardians/{guardian_id}")
async def family_json(request: Request, guardian_id: str, service: Service, at: AsOf) -> Any:
    """The guardian's students, each as on their own page."""
    return public(await family_shown(request, await service.family(guardian_id, at)))


@api.get("/teachers/{teacher_id}")
async def teacher_json(teacher_id: str, service: Service, at: AsOf) -> Any:
    return public(await service.teacher(teacher_id, at))


@api.get("/sections/{section_id}/heatmap")
async def heatmap_json(
    request: Request, section_id: str, service: Service, at: AsOf, options: Options
) -> Any:
    """Students × outcomes by level (sort, filter), and who has no evidence per outcome."""
    return public(await section_shown(request, await service.section(section_id, at, options)))


@api.get("/sections/{section_id}/report-cards")
async def section_cards_json(request: Request, section_id: str, service: Service, at: AsOf) -> Any:
    return public(await cards_shown(request, await service.section_cards(section_id, at)))


@api.get("/schools/{school_id}/report-cards")
async def school_cards_json(request: Request, school_id: str, service: Service, at: AsOf) -> Any:
    return public(await cards_shown(request, await service.school_cards(school_id, at)))


@api.get("/distribution")
async def distribution_json(
    request: Request,
    service: Service,
    at: AsOf,
    school_id: str | None = None,
    course_id: str | None = None,
    start: Annotated[str | None, Query(alias="from")] = None,
    interval: str = "week",
) -> Any:
    """Mastery distribution per outcome, course and school, over time; stuck outcomes."""
    begin = parse_moment(start, "from")
    view = await service.leader(school_id, course_id, at, begin, interval)
    return public(await leader_logged(request, view), "student_ids")


@api.get("/warnings")
async def warnings_json(
    request: Request,
    service: Service,
    at: AsOf,
    school_id: str | None = None,
    section_id: str | None = None,
) -> Any:
    """Students who need support, by the early-warning rule (its parameters included)."""
    return public(await warnings_shown(request, await service.warnings(school_id, section_id, at)))


class ScoreIn(BaseModel):
    outcome_id: str
    score: Decimal | None = None
    status: Literal["scored", "excused", "missing"] = "scored"


class RowIn(BaseModel):
    student_id: str
    scores: list[ScoreIn] = Field(min_length=1)
    comment: str | None = None


class ClassEntryIn(BaseModel):
    """One assessment for a whole class; recorded all together or not at all."""

    recorded_by: str = Field(min_length=1)
    assessed_at: AwareDatetime
    assessment_ref: str = Field(min_length=1)
    assessment_kind: Literal[
        "test",
        "project",
        "performance_task",
        "observation",
        "conversation",
        "portfolio_artifact",
        "self_assessment",
    ] = "test"
    rows: list[RowIn] = Field(min_length=1)
    idempotency_key: str = Field(default_factory=lambda: str(uuid.uuid4()))


@api.post("/sections/{section_id}/evidence")
async def record_class_evidence(section_id: str, body: ClassEntryIn, service: Service) -> Any:
    """Record one assessment for the class through the evidence service (all or nothing)."""
    entry = ClassEntry(
        section_id,
        body.recorded_by,
        body.assessed_at,
        body.assessment_ref,
        body.assessment_kind,
        tuple(
            EntryRow(
                row.student_id,
                tuple(ScoreCell(c.outcome_id, c.score, c.status) for c in row.scores),
                row.comment,
            )
            for row in body.rows
        ),
        body.idempotency_key,
    )
    result = await service.record_class_evidence(entry)
    return jsonable_encoder(result)


_PAGE_REFUSALS = {
    403: "Not allowed",
    404: "Unknown student, section or school (named)",
    422: "Bad format or as_of (named)",
}


def _export(kind: str, name: str, title: str, cards: Any, at: datetime | None) -> Response:
    if kind == "csv":
        return Response(
            cards_csv(cards, at),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return Response(
        cards_pdf(title, cards, at),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
    )


#: Downloads linked from the pages: refused as pages are (HTML; no token: to the sign-in page).
_PAGE = {"content": {"text/html": {"schema": {"type": "string"}}}}
exports = APIRouter(
    tags=["exports"],
    responses={
        200: {"content": {"application/pdf": {}, "text/csv": {}}, "description": "The file"},
        303: {"description": "No valid token: to the sign-in page"},
        **documented_errors(413, 503),  # answered before the page is, as JSON
        **{status: {**_PAGE, "description": why} for status, why in _PAGE_REFUSALS.items()},
    },
)


def export_kind(kind: str) -> str:
    if kind not in ("pdf", "csv"):
        raise BadField("format", f"{kind!r}: pdf or csv")
    return kind


@exports.get("/students/{student_id}/report-card.{kind}", response_class=Response)
async def student_export(student_id: str, kind: str, service: Service, at: AsOf) -> Response:
    export_kind(kind)
    card = await service.report_card(student_id, at)
    return _export(kind, f"report-card-{student_id}", card.name, [card], at)


@exports.get("/sections/{section_id}/report-cards.{kind}", response_class=Response)
async def section_export(
    request: Request, section_id: str, kind: str, service: Service, at: AsOf
) -> Response:
    export_kind(kind)
    cards = await cards_shown(request, await service.section_cards(section_id, at))
    return _export(kind, f"report-cards-{section_id}", cards.title, cards.cards, at)


@exports.get("/schools/{school_id}/report-cards.{kind}", response_class=Response)
async def school_export(
    request: Request, school_id: str, kind: str, service: Service, at: AsOf
) -> Response:
    export_kind(kind)
    cards = await cards_shown(request, await service.school_cards(school_id, at))
    return _export(kind, f"report-cards-{school_id}", cards.title, cards.cards, at)


@contextlib.asynccontextmanager
async def _settled_heap(_app: FastAPI) -> AsyncIterator[None]:
    """Once the app starts, what the process holds (modules, routes, schemas, models) lives as
    long as it does: frozen out of the cyclic collector's sight, as every service does once
    wired (``arc_platform.heap``; repeated here for the app served on its own, e.g. by the
    render benchmark). Full collections, which a busy page triggers now and then, then scan
    only what was made later (0.2 ms instead of 60-80 ms, the whole p99 of a heat map). The
    young generation is the one for pages (``heap.PAGE_THRESHOLDS``): a page's own objects
    made a young collection at the services' 50,000 stop it for 30-95 ms."""
    heap.settle_after_start(default=heap.PAGE_THRESHOLDS)
    yield


def create_app(
    model_or_service: ReportingReadModel | Reporting,
    access: Access,
    *,
    dev_sign_in: bool = False,
    limits: Limits | None = None,
) -> FastAPI:
    """The API and pages, every route checked by ``access``; ``dev_sign_in`` offers the demo
    users of the development issuer on the sign-in page (never in production)."""
    from arc_reporting import pages, signin

    service = (
        model_or_service if isinstance(model_or_service, Reporting) else Reporting(model_or_service)
    )
    app = FastAPI(title="Mastery Arc reporting", version="1", lifespan=_settled_heap)
    app.state.reporting = service
    app.state.access = access
    app.state.dev_sign_in = dev_sign_in
    app.add_middleware(TokenCookie)
    limit_request_bodies(app, limits or Limits())

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    guards = [Depends(remember_bearer), access.http(HTTP_RULES)]
    app.include_router(signin.router, dependencies=guards)
    app.include_router(api, dependencies=guards)
    app.include_router(exports, dependencies=guards)
    app.include_router(pages.router, dependencies=guards)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _handle_errors(app)
    return app


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _handle_errors(app: FastAPI) -> None:
    from arc_reporting.pages import denied_page, error_page

    install_error_handlers(app)

    def problem(request: Request, status: int, items: list[tuple[str, str]]) -> Response:
        if _wants_json(request):
            return error_response(status, items)
        return error_page(request, status, items)

    @app.exception_handler(StarletteHTTPException)
    async def refused(request: Request, exc: StarletteHTTPException) -> Response:
        """Pages: sign in when there is no (valid) token; a plain page when refused."""
        if _wants_json(request) or exc.status_code not in (401, 403):
            return http_exception_response(exc, 422)
        if exc.status_code == 401:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/signin?{urlencode({'next': target})}", status_code=303)
        return denied_page(request)

    @app.exception_handler(BadField)
    async def bad_field(request: Request, exc: BadField) -> Response:
        return problem(request, 422, [(exc.field, exc.message)])

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return problem(request, 404, [(exc.field, exc.message)])

    @app.exception_handler(FormErrors)
    async def form_errors(request: Request, exc: FormErrors) -> Response:
        return problem(request, 422, list(exc.errors.items()))

    @app.exception_handler(EntryRejected)
    async def rejected(request: Request, exc: EntryRejected) -> Response:
        return problem(request, 422, exc.violations)

    @app.exception_handler(EvidenceUnavailable)
    async def unavailable(request: Request, exc: EvidenceUnavailable) -> Response:
        return problem(request, 503, [("evidence", str(exc))])
