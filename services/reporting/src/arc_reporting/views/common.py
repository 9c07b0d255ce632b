"""What every view needs: the catalog, standings and attempts of some students as of a
moment, and the words to use."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from arc_contracts import OutcomeDefinedV1
from arc_reporting.domain.asof import AttemptAsOf, attempts_at, standings_at
from arc_reporting.domain.catalog import Catalog
from arc_reporting.domain.early_warning import WarningRule
from arc_reporting.domain.records import NO_EVIDENCE, Change, Standing
from arc_reporting.domain.vocabulary import PLAIN_STATUS, Vocabulary
from arc_reporting.read_model import ReportingReadModel


class NotFound(LookupError):
    """Asked about something reporting has never heard of (names the field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Config:
    outcome_label: str = "outcome"
    outcomes_label: str | None = None
    rule: WarningRule = field(default_factory=WarningRule)
    stuck_min_share: float = 0.3
    stuck_min_students: int = 3


@dataclass
class Scope:
    """Students' standings, changes and attempts as known at ``as_of``."""

    catalog: Catalog
    as_of: datetime | None
    standings: dict[tuple[str, str], Standing]
    changes: dict[tuple[str, str], list[Change]] = field(default_factory=dict)
    attempts: dict[tuple[str, str], list[AttemptAsOf]] = field(default_factory=dict)

    def standing(self, student_id: str, outcome_id: str) -> Standing:
        return self.standings.get((student_id, outcome_id), NO_EVIDENCE)

    def attempts_on(self, student_id: str, outcome_id: str) -> list[AttemptAsOf]:
        return self.attempts.get((student_id, outcome_id), [])


def load_scope(
    model: ReportingReadModel,
    catalog: Catalog,
    students: Collection[str],
    as_of: datetime | None,
    outcomes: Collection[str] | None = None,
    with_attempts: bool = False,
    with_changes: bool = True,
) -> Scope:
    """``with_changes=False``: standings only (``scope.changes`` stays empty), read faster."""
    if with_changes:
        changes = model.changes_of(students, outcomes, as_of)
        by_pair: dict[tuple[str, str], list[Change]] = defaultdict(list)
        for change in changes:
            by_pair[(change.student_id, change.outcome_id)].append(change)
        scope = Scope(catalog, as_of, standings_at(changes, as_of), dict(by_pair))
    else:
        scope = Scope(catalog, as_of, model.standings_of(students, outcomes, as_of))
    if with_attempts:
        raw = defaultdict(list)
        for attempt in model.attempts_of(students, outcomes, as_of):
            raw[(attempt.student_id, attempt.outcome_id)].append(attempt)
        scope.attempts = {
            pair: attempts_at(items, as_of, catalog.excluded_tags(pair[1]))
            for pair, items in raw.items()
        }
    return scope


def vocabulary(catalog: Catalog, config: Config) -> Vocabulary:
    return Vocabulary.of(catalog.network, config.outcome_label, config.outcomes_label)


@dataclass(frozen=True)
class OutcomeLine:
    """One outcome for one student, as every student-facing view lists it."""

    outcome_id: str
    code: str
    statement: str
    power: bool
    status: str
    plain_status: str
    value: Decimal | None
    level_label: str | None
    evidence_count: int
    attempts: int
    last_assessed_at: datetime | None
    scale: list[tuple[Decimal, str]]
    mastery_threshold: Decimal
    explanation: str | None = None

    @property
    def next_step(self) -> bool:
        return self.status != "mastered"


def outcome_line(
    outcome: OutcomeDefinedV1, power: bool, scope: Scope, student_id: str
) -> OutcomeLine:
    standing = scope.standing(student_id, outcome.outcome_id)
    shown = scope.attempts_on(student_id, outcome.outcome_id)
    assessed = [a.attempt.assessed_at for a in shown if not a.voided]
    return OutcomeLine(
        outcome.outcome_id,
        outcome.code,
        outcome.statement,
        power,
        standing.status,
        PLAIN_STATUS.get(standing.status, standing.status),
        standing.value,
        standing.label,
        standing.evidence_count,
        len(shown),
        max(assessed) if assessed else None,
        [(lv.value, lv.label) for lv in outcome.scale.levels],
        outcome.scale.mastery_threshold,
    )


#: What comes next: power outcomes first, then the closest to mastery.
_NEXT_ORDER = {"approaching": 0, "needs_judgment": 1, "not_yet": 2, "no_evidence": 3}


def next_steps(lines: Sequence[OutcomeLine]) -> list[OutcomeLine]:
    unique = {line.outcome_id: line for line in lines if line.next_step}
    return sorted(
        unique.values(),
        key=lambda line: (not line.power, _NEXT_ORDER.get(line.status, 9), line.code),
    )


def as_of_text(as_of: datetime | None) -> str | None:
    return None if as_of is None else as_of.isoformat()
