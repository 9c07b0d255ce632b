"""The web pages: server-rendered HTML (Jinja2), no build step and no script needed; charts are
SVG from ``charts``. Each page shows the same view as its JSON API."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from arc_platform.auth import Role
from arc_reporting import charts
from arc_reporting.access import caller
from arc_reporting.clients import EntryRejected
from arc_reporting.domain.asof import parse_moment
from arc_reporting.domain.heatmap import Cell, Column, Row
from arc_reporting.domain.palette import STATUS_COLOURS, text_on
from arc_reporting.domain.records import STATUSES
from arc_reporting.domain.vocabulary import PLAIN_STATUS
from arc_reporting.forms import (
    FormErrors,
    form_field_of,
    parse_entry_form,
    score_input,
    status_input,
)
from arc_reporting.http_api import AsOf, Options, Service
from arc_reporting.lists import (
    cards_shown,
    family_shown,
    leader_logged,
    section_shown,
    warnings_shown,
)
from arc_reporting.service import timeline_svg

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(include_in_schema=False)


def _date(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d")


def _number(value: Decimal | float | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return f"{value:g}"


def _query(request: Request, **changes: Any) -> str:
    """The current URL's query with some parameters changed (None removes one)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    return "?" + urlencode(params) if params else "?"


def _href(request: Request, path: str, **params: Any) -> str:
    """A link to ``path`` that keeps the page's "as of" date."""
    as_of = request.query_params.get("as_of")
    query = {k: str(v) for k, v in params.items() if v is not None}
    if as_of:
        query["as_of"] = as_of
    return f"{path}?{urlencode(query)}" if query else path


class _HeatCells:
    """A heat map's cells (2,100 on a 35 × 60 map), built here rather than by the template
    engine, which took most of the page's time. Each cell links to the student's outcome (keeping
    "as of") and carries its label in words as well as its colour. What is the same for a whole
    column (its link) or for cells that look alike (colour, value, label) is escaped once."""

    def __init__(self, columns: list[Column], as_of_query: str) -> None:
        self._outcome_links = [escape(quote(c.outcome_id, safe="/") + as_of_query) for c in columns]
        self._faces: dict[tuple[str, str, str, str, Decimal | None], tuple[str, str]] = {}

    def __call__(self, row: Row) -> Markup:
        student_link = escape(f"/students/{quote(row.student_id, safe='/')}/outcomes/")
        title = f'" title="{escape(row.name)}: '
        cells = []
        for cell, outcome_link in zip(row.cells, self._outcome_links, strict=True):
            start, end = self._face(cell)
            cells.append(f"{start}{student_link}{outcome_link}{title}{end}")
        return Markup("".join(cells))

    def _face(self, cell: Cell) -> tuple[str, str]:
        """The cell's markup before its link, and after its title's student name."""
        key = (cell.status, cell.colour, cell.text_colour, cell.label, cell.value)
        face = self._faces.get(key)
        if face is None:
            label = escape(cell.label)
            shown = "–" if cell.status == "no_evidence" else escape(_number(cell.value))
            face = self._faces[key] = (
                f'<td style="background:{escape(cell.colour)};color:{escape(cell.text_colour)}">'
                '<a style="color:inherit" href="',
                f'{label}">{shown}<span class="visually-hidden"> {label}</span></a></td>',
            )
        return face


class _StudentLinks:
    """Links to students' pages (keeping "as of"), each built once: the "no evidence yet" list
    names each student up to once per outcome (about 1,700 links on a 35 × 60 map)."""

    def __init__(self, names: dict[str, str], as_of_query: str) -> None:
        self._names = names
        self._as_of_query = as_of_query
        self._links: dict[str, str] = {}

    def __call__(self, student_ids: Iterable[str]) -> Markup:
        return Markup(", ".join(self._link(s) for s in student_ids))

    def _link(self, student_id: str) -> str:
        link = self._links.get(student_id)
        if link is None:
            href = escape(f"/students/{quote(student_id, safe='/')}{self._as_of_query}")
            name = escape(self._names.get(student_id, student_id))
            link = self._links[student_id] = f'<a href="{href}">{name}</a>'
        return link


TEMPLATES.env.filters["date"] = _date
TEMPLATES.env.filters["num"] = _number
TEMPLATES.env.filters["pct"] = lambda share: f"{100 * share:.0f}%"
TEMPLATES.env.globals.update(
    query=_query,
    href=_href,
    heat_cells=_HeatCells,
    student_links=_StudentLinks,
    STATUSES=STATUSES,
    STATUS_COLOURS=STATUS_COLOURS,
    PLAIN_STATUS=PLAIN_STATUS,
    text_on=text_on,
    score_input=score_input,
    status_input=status_input,
)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    as_of = request.query_params.get("as_of", "")
    return TEMPLATES.TemplateResponse(
        request, template, {"as_of_text": as_of, **context}, status_code=status_code
    )


def error_page(request: Request, status: int, problems: list[tuple[str, str]]) -> HTMLResponse:
    return render(request, "error.html", status, status=status, problems=problems)


def denied_page(request: Request) -> HTMLResponse:
    """The one answer to a refused page, whatever was asked for and whether it exists."""
    return TEMPLATES.TemplateResponse(request, "denied.html", {"as_of_text": ""}, status_code=403)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, service: Service, at: AsOf) -> Response:
    """Administrators and auditors see the whole directory; everyone else goes to their own
    view (a student's page, a family's, a teacher's sections, a leader's school)."""
    principal = caller(request).principal
    if principal.roles & {Role.NETWORK_ADMIN, Role.AUDITOR}:
        return render(request, "directory.html", view=await service.directory(at))
    me = principal.subject
    if Role.LEADER in principal.roles:
        person = service.model.catalog(None).people.get(me)
        schools = sorted(person.school_ids) if person is not None else []
        return RedirectResponse(_href(request, "/leaders", school_id=(schools or [""])[0]), 303)
    for role, path in (
        (Role.STUDENT, f"/students/{me}"),
        (Role.GUARDIAN, f"/families/{me}"),
        (Role.TEACHER, f"/teachers/{me}"),
    ):
        if role in principal.roles:
            return RedirectResponse(_href(request, path), 303)
    return denied_page(request)


@router.get("/students/{student_id}", response_class=HTMLResponse)
async def student(request: Request, student_id: str, service: Service, at: AsOf) -> HTMLResponse:
    return render(request, "student.html", view=await service.student(student_id, at))


@router.get("/students/{student_id}/outcomes/{outcome_id}", response_class=HTMLResponse)
async def outcome(
    request: Request, student_id: str, outcome_id: str, service: Service, at: AsOf
) -> HTMLResponse:
    detail = await service.outcome(student_id, outcome_id, at)
    return render(request, "outcome.html", view=detail, chart=Markup(timeline_svg(detail)))


@router.get("/students/{student_id}/outcomes/{outcome_id}/chart.svg")
async def outcome_chart(student_id: str, outcome_id: str, service: Service, at: AsOf) -> Response:
    svg = await service.outcome_chart(student_id, outcome_id, at)
    return Response(svg, media_type="image/svg+xml")


@router.get("/students/{student_id}/report-card", response_class=HTMLResponse)
async def report_card(
    request: Request, student_id: str, service: Service, at: AsOf
) -> HTMLResponse:
    card = await service.report_card(student_id, at)
    return render(
        request,
        "report_card.html",
        cards=[card],
        title=card.name,
        words=card.words,
        exports=f"/students/{student_id}/report-card",
    )


@router.get("/sections/{section_id}/report-cards", response_class=HTMLResponse)
async def section_cards(
    request: Request, section_id: str, service: Service, at: AsOf
) -> HTMLResponse:
    cards = await cards_shown(request, await service.section_cards(section_id, at))
    return render(
        request,
        "report_card.html",
        cards=cards.cards,
        title=cards.title,
        words=cards.words,
        exports=f"/sections/{section_id}/report-cards",
    )


@router.get("/schools/{school_id}/report-cards", response_class=HTMLResponse)
async def school_cards(
    request: Request, school_id: str, service: Service, at: AsOf
) -> HTMLResponse:
    cards = await cards_shown(request, await service.school_cards(school_id, at))
    return render(
        request,
        "report_card.html",
        cards=cards.cards,
        title=cards.title,
        words=cards.words,
        exports=f"/schools/{school_id}/report-cards",
    )


@router.get("/families/{guardian_id}", response_class=HTMLResponse)
async def family(request: Request, guardian_id: str, service: Service, at: AsOf) -> HTMLResponse:
    view = await family_shown(request, await service.family(guardian_id, at))
    return render(request, "family.html", view=view)


@router.get("/teachers/{teacher_id}", response_class=HTMLResponse)
async def teacher(request: Request, teacher_id: str, service: Service, at: AsOf) -> HTMLResponse:
    return render(request, "teacher.html", view=await service.teacher(teacher_id, at))


@router.get("/sections/{section_id}", response_class=HTMLResponse)
async def section(
    request: Request,
    section_id: str,
    service: Service,
    at: AsOf,
    options: Options,
    recorded: int | None = None,
) -> HTMLResponse:
    view = await section_shown(request, await service.section(section_id, at, options))
    return render(request, "section.html", view=view, recorded=recorded)


@router.get("/sections/{section_id}/evidence", response_class=HTMLResponse)
async def entry_form(
    request: Request,
    section_id: str,
    service: Service,
    outcome_id: Annotated[list[str] | None, Query()] = None,
) -> HTMLResponse:
    form = await service.entry_form(section_id, outcome_id or [])
    values = {"assessed_on": datetime.now(UTC).strftime("%Y-%m-%d"), "assessment_kind": "test"}
    return render(
        request, "entry.html", form=form, values=values, errors={}, idempotency_key=uuid.uuid4()
    )


@router.post("/sections/{section_id}/evidence", response_class=HTMLResponse)
async def record_entry(request: Request, section_id: str, service: Service) -> Response:
    submitted = await request.form()
    values = {k: str(v) for k, v in submitted.items()}
    chosen = [str(v) for v in submitted.getlist("outcome_id")]
    form = await service.entry_form(section_id, chosen)
    try:
        entry = parse_entry_form(section_id, values, [s for s, _ in form.students], form.chosen)
    except FormErrors as exc:
        return render(
            request,
            "entry.html",
            422,
            form=form,
            values=values,
            errors=exc.errors,
            idempotency_key=uuid.uuid4(),
        )
    try:
        result = await service.record_class_evidence(entry)
    except EntryRejected as exc:
        errors = {form_field_of(entry, f): m for f, m in exc.violations}
        return render(
            request,
            "entry.html",
            422,
            form=form,
            values=values,
            errors=errors,
            idempotency_key=uuid.uuid4(),
        )
    return RedirectResponse(f"/sections/{section_id}?recorded={result.attempts}", status_code=303)


@router.get("/leaders", response_class=HTMLResponse)
async def leaders(
    request: Request,
    service: Service,
    at: AsOf,
    school_id: str | None = None,
    course_id: str | None = None,
    start: Annotated[str | None, Query(alias="from")] = None,
    interval: str = "week",
) -> HTMLResponse:
    view = await service.leader(
        school_id or None, course_id or None, at, parse_moment(start, "from"), interval
    )
    view = await leader_logged(request, view)
    over_time = charts.status_over_time(
        f"Mastery over time: {view.title}", [(p.at, p.distribution.counts) for p in view.over_time]
    )
    by_outcome = charts.status_bars(
        f"By {view.words.outcome}", [(r.title, r.distribution.counts) for r in view.by_outcome]
    )
    return render(
        request,
        "leader.html",
        view=view,
        over_time=Markup(over_time),
        by_outcome=Markup(by_outcome),
    )


@router.get("/warnings", response_class=HTMLResponse)
async def warnings(
    request: Request,
    service: Service,
    at: AsOf,
    school_id: str | None = None,
    section_id: str | None = None,
) -> HTMLResponse:
    view = await service.warnings(school_id or None, section_id or None, at)
    view = await warnings_shown(request, view)
    return render(request, "warnings.html", view=view)
