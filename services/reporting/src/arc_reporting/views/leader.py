"""Leaders' view: mastery distribution per outcome, per course and per school, over time, and
the outcomes where many students are stuck. Only from events."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from arc_reporting.domain.distribution import (
    Distribution,
    StuckOutcome,
    distribution,
    moments,
    statuses_over_time,
    stuck_outcomes,
)
from arc_reporting.domain.early_warning import PairHistory, stalled_detail
from arc_reporting.domain.vocabulary import Vocabulary
from arc_reporting.read_model import ReportingReadModel
from arc_reporting.views.common import Config, NotFound, load_scope, vocabulary


@dataclass(frozen=True)
class Row:
    key: str
    title: str
    distribution: Distribution


@dataclass(frozen=True)
class Point:
    at: datetime
    distribution: Distribution


@dataclass(frozen=True)
class StuckLine:
    outcome_id: str
    code: str
    statement: str
    stuck: int
    with_evidence: int
    share: float


@dataclass
class LeaderPage:
    title: str
    school_id: str | None
    course_id: str | None
    as_of: datetime | None
    start: datetime
    interval: str
    words: Vocabulary
    schools: list[tuple[str, str]]
    courses: list[tuple[str, str]]
    overall: Distribution
    by_school: list[Row]
    by_course: list[Row]
    by_outcome: list[Row]
    over_time: list[Point]
    stuck: list[StuckLine]
    students: int
    #: Whose records the distribution counts (for the access log; not shown).
    student_ids: list[str] = field(default_factory=list)


def leader_page(
    model: ReportingReadModel,
    config: Config,
    school_id: str | None,
    course_id: str | None,
    as_of: datetime | None,
    start: datetime | None,
    interval: str = "week",
) -> LeaderPage:
    catalog = model.catalog(as_of)
    if school_id is not None and school_id not in catalog.schools():
        raise NotFound("school_id", f"no school {school_id!r}")
    if course_id is not None and course_id not in catalog.courses:
        raise NotFound("course_id", f"no course {course_id!r}")
    end = as_of or datetime.now(UTC)
    start = start or end - timedelta(weeks=12)
    at = moments(start, end, interval)
    sections = catalog.sections_in(school_id, course_id)
    # pair → (school, course) it belongs to; a student in two sections of a course counts once
    pairs: dict[tuple[str, str], tuple[str, str]] = {}
    for section in sections:
        school = catalog.school_of_section(section) or ""
        for outcome, _ in catalog.course_outcomes(section.course_id):
            for student in section.student_ids:
                pairs.setdefault((student, outcome.outcome_id), (school, section.course_id))
    students = sorted({s for s, _ in pairs})
    scope = load_scope(model, catalog, students, as_of, {o for _, o in pairs}, with_attempts=True)
    status = {pair: scope.standing(*pair).status for pair in pairs}

    def rows(key_of: dict[tuple[str, str], str], title_of: dict[str, str]) -> list[Row]:
        grouped: dict[str, list[str]] = defaultdict(list)
        for pair, key in key_of.items():
            grouped[key].append(status[pair])
        return [
            Row(k, title_of.get(k, k), distribution(v))
            for k, v in sorted(grouped.items(), key=lambda kv: title_of.get(kv[0], kv[0]))
        ]

    outcomes = catalog.outcomes
    by_outcome = rows(
        {pair: pair[1] for pair in pairs},
        {o: f"{outcomes[o].code}" for o in {o for _, o in pairs}},
    )
    by_course = rows(
        {pair: course for pair, (_, course) in pairs.items()},
        {c: catalog.courses[c].title for c in catalog.courses},
    )
    by_school = rows(
        {pair: school for pair, (school, _) in pairs.items()},
        {s: catalog.school_name(s) for s in catalog.schools()},
    )
    pair_list = sorted(pairs)
    series = statuses_over_time(pair_list, [c for cs in scope.changes.values() for c in cs], at)
    stuck_counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (student, outcome_id), _ in pairs.items():
        standing = scope.standing(student, outcome_id)
        if standing.status == "no_evidence":
            continue
        history = PairHistory(
            student,
            outcome_id,
            False,
            standing,
            scope.changes.get((student, outcome_id), []),
            scope.attempts_on(student, outcome_id),
            None,
        )
        counts = stuck_counts[outcome_id]
        counts[1] += 1
        if not standing.mastered and stalled_detail(config.rule, history):
            counts[0] += 1
    stuck = stuck_outcomes(
        {o: (c[0], c[1]) for o, c in stuck_counts.items()},
        config.stuck_min_share,
        config.stuck_min_students,
    )
    title = (
        catalog.courses[course_id].title
        if course_id
        else catalog.school_name(school_id)
        if school_id
        else vocabulary(catalog, config).network_name
    )
    return LeaderPage(
        title,
        school_id,
        course_id,
        as_of,
        start,
        interval,
        vocabulary(catalog, config),
        [(s, catalog.school_name(s)) for s in catalog.schools()],
        sorted(((c.course_id, c.title) for c in catalog.courses.values()), key=lambda c: c[1]),
        distribution(status.values()),
        by_school,
        by_course,
        by_outcome,
        [Point(t, d) for t, d in zip(at, series, strict=True)],
        [_stuck_line(s, catalog.outcomes) for s in stuck],
        len(students),
        students,
    )


def _stuck_line(stuck: StuckOutcome, outcomes: Mapping[str, object]) -> StuckLine:
    outcome = outcomes.get(stuck.outcome_id)
    return StuckLine(
        stuck.outcome_id,
        getattr(outcome, "code", stuck.outcome_id),
        getattr(outcome, "statement", ""),
        stuck.stuck,
        stuck.with_evidence,
        round(stuck.share, 3),
    )
