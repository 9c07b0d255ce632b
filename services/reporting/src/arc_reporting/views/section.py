"""A teacher's sections, and one section's heat map (students × outcomes by level), with the
students who have no evidence yet on each outcome and what whole-class entry needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from arc_contracts import OutcomeDefinedV1, SectionDefinedV1
from arc_reporting.domain.catalog import Catalog
from arc_reporting.domain.heatmap import Cell, HeatMap, HeatMapOptions, cell_of, shape
from arc_reporting.domain.records import NO_EVIDENCE, Standing
from arc_reporting.domain.vocabulary import Vocabulary
from arc_reporting.read_model import ReportingReadModel
from arc_reporting.views.common import Config, NotFound, load_scope, vocabulary


@dataclass(frozen=True)
class SectionSummary:
    section_id: str
    title: str
    course_id: str
    course_title: str
    school: str
    students: int


@dataclass
class TeacherPage:
    teacher_id: str
    name: str
    as_of: datetime | None
    words: Vocabulary
    sections: list[SectionSummary]


def summary(catalog: Catalog, section: SectionDefinedV1) -> SectionSummary:
    course = catalog.courses.get(section.course_id)
    return SectionSummary(
        section.section_id,
        section.title,
        section.course_id,
        course.title if course else section.course_id,
        catalog.school_name(catalog.school_of_section(section)),
        len(section.student_ids),
    )


def teacher_page(
    model: ReportingReadModel, config: Config, teacher_id: str, as_of: datetime | None
) -> TeacherPage:
    catalog = model.catalog(as_of)
    if teacher_id not in catalog.people:
        raise NotFound("teacher_id", f"no teacher {teacher_id!r}")
    sections = [summary(catalog, s) for s in catalog.sections_of_teacher(teacher_id)]
    return TeacherPage(
        teacher_id, catalog.name_of(teacher_id), as_of, vocabulary(catalog, config), sections
    )


@dataclass
class SectionPage:
    section: SectionSummary
    teachers: list[tuple[str, str]]
    as_of: datetime | None
    words: Vocabulary
    options: HeatMapOptions
    heatmap: HeatMap
    tags: list[str]
    names: dict[str, str]
    legend: list[Cell]


def section_page(
    model: ReportingReadModel,
    config: Config,
    section_id: str,
    as_of: datetime | None,
    options: HeatMapOptions,
) -> SectionPage:
    catalog = model.catalog(as_of)
    section = catalog.sections.get(section_id)
    if section is None:
        raise NotFound("section_id", f"no section {section_id!r}")
    outcomes = catalog.course_outcomes(section.course_id)
    ids = [o.outcome_id for o, _ in outcomes]
    scope = load_scope(model, catalog, section.student_ids, as_of, ids, with_changes=False)
    students = [(s, catalog.name_of(s), catalog.sort_name(s)) for s in section.student_ids]
    heatmap = shape(students, outcomes, scope.standings, options)
    return SectionPage(
        summary(catalog, section),
        [(t, catalog.name_of(t)) for t in section.teacher_ids],
        as_of,
        vocabulary(catalog, config),
        options,
        heatmap,
        sorted({tag for o, _ in outcomes for tag in o.tags}),
        {s: name for s, name, _ in students},
        legend(outcomes),
    )


def legend(outcomes: list[tuple[OutcomeDefinedV1, bool]]) -> list[Cell]:
    """The colour of each level of the (first) scale, and of no evidence."""
    if not outcomes:
        return []
    first = outcomes[0][0]
    cells = [
        cell_of(
            first,
            Standing(
                "mastered" if lv.value >= first.scale.mastery_threshold else "not_yet",
                lv.value,
                lv.value,
                lv.label,
            ),
        )
        for lv in first.scale.levels
    ]
    return [*cells, cell_of(first, NO_EVIDENCE)]


@dataclass(frozen=True)
class EntryOutcome:
    outcome_id: str
    code: str
    statement: str
    levels: list[tuple[Decimal, str]]  # empty: a numeric scale
    minimum: Decimal
    maximum: Decimal


@dataclass
class EntryForm:
    """What the whole-class entry form shows: the roster and the outcomes assessed."""

    section: SectionSummary
    words: Vocabulary
    students: list[tuple[str, str]]
    outcomes: list[EntryOutcome]
    chosen: list[str]


def entry_form(
    model: ReportingReadModel, config: Config, section_id: str, chosen: list[str]
) -> EntryForm:
    catalog = model.catalog()
    section = catalog.sections.get(section_id)
    if section is None:
        raise NotFound("section_id", f"no section {section_id!r}")
    outcomes = [
        EntryOutcome(
            o.outcome_id,
            o.code,
            o.statement,
            [(lv.value, lv.label) for lv in o.scale.levels] if o.scale.kind == "levels" else [],
            o.scale.low,
            o.scale.high,
        )
        for o, _ in catalog.course_outcomes(section.course_id)
    ]
    known = {o.outcome_id for o in outcomes}
    for outcome_id in chosen:
        if outcome_id not in known:
            raise NotFound(
                "outcome_id", f"{outcome_id!r} is not an outcome of this section's course"
            )
    students = sorted(section.student_ids, key=catalog.sort_name)
    return EntryForm(
        summary(catalog, section),
        vocabulary(catalog, config),
        [(s, catalog.name_of(s)) for s in students],
        outcomes,
        chosen or [o.outcome_id for o in outcomes[:1]],
    )
