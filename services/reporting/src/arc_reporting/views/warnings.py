"""Early warnings: which students need support on which outcome, by the documented rule
(``domain.early_warning``), for a section, a school or the network, as of any moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from arc_contracts import SectionDefinedV1
from arc_reporting.domain.catalog import Catalog
from arc_reporting.domain.early_warning import PairHistory, Warning, evaluate
from arc_reporting.domain.vocabulary import Vocabulary
from arc_reporting.read_model import ReportingReadModel
from arc_reporting.views.common import Config, NotFound, load_scope, vocabulary


@dataclass(frozen=True)
class WarningLine:
    student_id: str
    student_name: str
    outcome_id: str
    code: str
    statement: str
    course_ids: tuple[str, ...]
    reasons: tuple[str, ...]
    detail: str
    status: str
    value: Decimal | None
    level_label: str | None
    last_evidence_at: datetime | None


@dataclass
class WarningsPage:
    title: str
    school_id: str | None
    section_id: str | None
    as_of: datetime | None
    words: Vocabulary
    rule: dict[str, str]
    warnings: list[WarningLine]
    schools: list[tuple[str, str]]


@dataclass
class _Pair:
    power: bool
    enrolled_since: datetime | None
    courses: set[str]


def evaluate_all(
    model: ReportingReadModel,
    config: Config,
    catalog: Catalog,
    sections: list[SectionDefinedV1],
    as_of: datetime | None,
) -> list[tuple[Warning, tuple[str, ...]]]:
    """Every warning among the students of ``sections`` at ``as_of`` (now when None), with
    the courses concerned."""
    now = as_of or datetime.now(UTC)
    pairs: dict[tuple[str, str], _Pair] = {}
    for section in sections:
        for outcome, power in catalog.course_outcomes(section.course_id):
            for student in section.student_ids:
                since = catalog.enrolled_since.get((section.section_id, student))
                found = pairs.setdefault((student, outcome.outcome_id), _Pair(False, since, set()))
                found.power = found.power or power
                found.courses.add(section.course_id)
                if since is not None and (
                    found.enrolled_since is None or since < found.enrolled_since
                ):
                    found.enrolled_since = since
    students = {s for s, _ in pairs}
    scope = load_scope(model, catalog, students, as_of, {o for _, o in pairs}, with_attempts=True)
    found_warnings = []
    for (student, outcome_id), pair in sorted(pairs.items()):
        history = PairHistory(
            student,
            outcome_id,
            pair.power,
            scope.standing(student, outcome_id),
            scope.changes.get((student, outcome_id), []),
            scope.attempts_on(student, outcome_id),
            pair.enrolled_since,
        )
        warning = evaluate(config.rule, now, history)
        if warning is not None:
            found_warnings.append((warning, tuple(sorted(pair.courses))))
    return found_warnings


def warnings_page(
    model: ReportingReadModel,
    config: Config,
    school_id: str | None,
    section_id: str | None,
    as_of: datetime | None,
) -> WarningsPage:
    catalog = model.catalog(as_of)
    if section_id is not None:
        if section_id not in catalog.sections:
            raise NotFound("section_id", f"no section {section_id!r}")
        sections = [catalog.sections[section_id]]
        title = catalog.sections[section_id].title
    else:
        if school_id is not None and school_id not in catalog.schools():
            raise NotFound("school_id", f"no school {school_id!r}")
        sections = catalog.sections_in(school_id)
        title = (
            catalog.school_name(school_id)
            if school_id
            else vocabulary(catalog, config).network_name
        )
    lines = []
    for warning, courses in evaluate_all(model, config, catalog, sections, as_of):
        outcome = catalog.outcomes[warning.outcome_id]
        lines.append(
            WarningLine(
                warning.student_id,
                catalog.name_of(warning.student_id),
                warning.outcome_id,
                outcome.code,
                outcome.statement,
                courses,
                warning.reasons,
                warning.detail,
                warning.standing.status,
                warning.standing.value,
                warning.standing.label,
                warning.last_evidence_at,
            )
        )
    lines.sort(key=lambda w: (catalog.sort_name(w.student_id), w.code))
    return WarningsPage(
        title,
        school_id,
        section_id,
        as_of,
        vocabulary(catalog, config),
        config.rule.params(),
        lines,
        [(s, catalog.school_name(s)) for s in catalog.schools()],
    )
