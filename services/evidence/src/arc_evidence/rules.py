"""What makes an attempt recordable, checked against evidence's local view of the catalog and
roster. Pure Python, no I/O: the catalog view is passed in through :class:`CatalogLookup`.

Problems name the field at fault in the terms of the domain (``student_id``, ``score``…) and,
for batches, the row and the outcome entry; each API adapter turns them into its own field
paths (``rows[3].scores[1].score``, or a CSV line and column).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal, Protocol, get_args
from urllib.parse import urlsplit

from arc_contracts import ProficiencyScaleV1
from arc_contracts.evidence_v1 import AssessmentKind, AttemptStatus
from arc_evidence.scales import describe, on_scale

ASSESSMENT_KINDS: tuple[str, ...] = get_args(AssessmentKind)
STATUSES: tuple[str, ...] = get_args(AttemptStatus)
#: Self-assessments always carry this tag, so a policy excluding it by tag finds them.
SELF_ASSESSMENT_TAG = "self_assessment"
#: Clocks differ between a teacher's device and the server; beyond this, "assessed in the
#: future" is an error.
CLOCK_SKEW = timedelta(minutes=5)
MAX_ID = 200
MAX_REF = 500
MAX_COMMENT = 10_000
MAX_URL = 2_000
MAX_TAG = 64
MAX_TAGS = 20
MAX_SCORES_PER_ITEM = 50

StudentStanding = Literal["student", "inactive", "not_a_student", "unknown"]


@dataclass(frozen=True)
class KnownOutcome:
    """Evidence's local view of a catalog outcome (built from ``OutcomeDefinedV1``)."""

    outcome_id: str
    revision: int
    scale: ProficiencyScaleV1
    retired: bool = False
    code: str = ""
    case_uri: str | None = None


@dataclass(frozen=True)
class KnownSection:
    section_id: str
    revision: int
    student_ids: frozenset[str] = frozenset()
    teacher_ids: frozenset[str] = frozenset()


class CatalogLookup(Protocol):
    def outcome(self, outcome_id: str) -> KnownOutcome | None: ...

    def outcome_by_code(self, code: str) -> KnownOutcome | None: ...

    def outcomes_aligned_to(self, uri: str) -> list[KnownOutcome]: ...

    def student(self, student_id: str) -> StudentStanding: ...

    def section(self, section_id: str) -> KnownSection | None: ...


@dataclass(frozen=True)
class Problem:
    """Why something cannot be recorded. ``row`` indexes a batch, ``entry`` an outcome score
    within an item; both None for a field of the request itself."""

    field: str
    description: str
    row: int | None = None
    entry: int | None = None

    def at_row(self, row: int) -> Problem:
        return Problem(self.field, self.description, row, self.entry)


RejectionKind = Literal["invalid", "not_found", "conflict"]


class Rejected(ValueError):
    """Nothing was recorded, for these reasons (every one found, not just the first).
    ``kind``: bad input, a reference to something that does not exist, or a request that
    conflicts with the current state (e.g. voiding an attempt twice)."""

    def __init__(self, problems: Sequence[Problem], kind: RejectionKind = "invalid") -> None:
        super().__init__("; ".join(f"{p.field}: {p.description}" for p in problems))
        self.problems = list(problems)
        self.kind: RejectionKind = kind


@dataclass(frozen=True)
class ScoreEntry:
    """One outcome evidenced by an item, with its own score."""

    outcome_id: str
    score: Decimal | None
    status: str = "scored"
    retake_of: str | None = None
    attempt_number: int | None = None


@dataclass(frozen=True)
class AttemptDraft:
    """One student's work on one assessment item, as a client sent it (not yet checked)."""

    student_id: str
    entries: tuple[ScoreEntry, ...]
    assessed_at: datetime | None
    recorded_by: str
    assessment_ref: str | None = None
    assessment_kind: str = "test"
    weight: Decimal = Decimal(1)
    tags: tuple[str, ...] = ()
    comment: str | None = None
    artifact_url: str | None = None
    source: str = "api"
    source_ref: str | None = None


@dataclass(frozen=True)
class NewAttempt:
    """A checked attempt on one outcome, ready to become an ``AttemptRecorded`` event."""

    attempt_id: str
    student_id: str
    outcome_id: str
    outcome_revision: int
    scale: ProficiencyScaleV1
    status: str
    score: Decimal | None
    assessed_at: datetime
    recorded_at: datetime
    recorded_by: str
    assessment_ref: str | None = None
    assessment_kind: str = "test"
    weight: Decimal = Decimal(1)
    tags: tuple[str, ...] = ()
    attempt_number: int | None = None
    retake_of: str | None = None
    supersedes: str | None = None
    comment: str | None = None
    artifact_url: str | None = None
    source: str = "api"
    source_ref: str | None = None
    correction_reason: str | None = None


@dataclass(frozen=True)
class Checks:
    """The circumstances of a check: the catalog as evidence knows it, and the time."""

    catalog: CatalogLookup
    now: datetime
    require_roster: bool = False
    section: KnownSection | None = None


@dataclass
class _Report:
    checks: Checks
    found: list[Problem] = field(default_factory=list)

    def problem(self, name: str, description: str, entry: int | None = None) -> None:
        self.found.append(Problem(name, description, entry=entry))


def check_draft(draft: AttemptDraft, checks: Checks) -> list[Problem]:
    """Every reason this item cannot be recorded, in field order (empty when it can)."""
    report = _Report(checks)
    _check_student(draft.student_id, report)
    if not draft.recorded_by.strip():
        report.problem("recorded_by", "must not be empty")
    elif len(draft.recorded_by.strip()) > MAX_ID:
        report.problem("recorded_by", f"must be at most {MAX_ID} characters")
    _check_entries(draft.entries, report)
    _check_assessed_at(draft.assessed_at, report)
    _check_details(draft, report)
    return report.found


def _check_student(student_id: str, report: _Report) -> None:
    student_id = student_id.strip()
    if not student_id:
        report.problem("student_id", "must not be empty")
        return
    if len(student_id) > MAX_ID:
        report.problem("student_id", f"must be at most {MAX_ID} characters")
        return
    section = report.checks.section
    if section is not None and student_id not in section.student_ids:
        report.problem(
            "student_id",
            f"student {student_id!r} is not on the roster of section {section.section_id!r}",
        )
        return
    if not report.checks.require_roster:
        return
    standing = report.checks.catalog.student(student_id)
    if standing == "unknown":
        report.problem("student_id", f"unknown student {student_id!r}")
    elif standing == "inactive":
        report.problem("student_id", f"student {student_id!r} is no longer active")
    elif standing == "not_a_student":
        report.problem("student_id", f"{student_id!r} is not a student")


def _check_entries(entries: Sequence[ScoreEntry], report: _Report) -> None:
    if not entries:
        report.problem("scores", "at least one outcome score is required")
        return
    if len(entries) > MAX_SCORES_PER_ITEM:
        report.problem("scores", f"at most {MAX_SCORES_PER_ITEM} outcomes per item")
        return
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        _check_entry(entry, index, report, seen)


def _check_entry(entry: ScoreEntry, index: int, report: _Report, seen: set[str]) -> None:
    outcome_id = entry.outcome_id.strip()
    outcome = report.checks.catalog.outcome(outcome_id) if outcome_id else None
    if not outcome_id:
        report.problem("outcome_id", "must not be empty", index)
    elif outcome_id in seen:
        report.problem("outcome_id", f"outcome {outcome_id!r} appears twice in this item", index)
    elif outcome is None:
        report.problem("outcome_id", f"unknown outcome {outcome_id!r}", index)
    elif outcome.retired:
        report.problem("outcome_id", f"outcome {outcome_id!r} is retired", index)
    seen.add(outcome_id)
    if entry.status not in STATUSES:
        allowed = ", ".join(STATUSES)
        report.problem("status", f"unknown status {entry.status!r} ({allowed})", index)
    elif entry.status == "scored" and entry.score is None:
        report.problem("score", "is required for a scored attempt", index)
    elif entry.status != "scored" and entry.score is not None:
        report.problem("score", f"must be empty when the status is {entry.status}", index)
    elif (
        entry.score is not None
        and outcome is not None
        and not outcome.retired
        and on_scale(outcome.scale, entry.score) is None
    ):
        report.problem(
            "score",
            f"{entry.score} is not on the scale of {outcome_id!r} {describe(outcome.scale)}",
            index,
        )
    if entry.attempt_number is not None and entry.attempt_number < 1:
        report.problem("attempt_number", "must be 1 or more", index)


def _check_assessed_at(assessed_at: datetime | None, report: _Report) -> None:
    if assessed_at is None:
        report.problem("assessed_at", "is required")
    elif assessed_at.tzinfo is None:
        report.problem("assessed_at", "needs a time zone")
    elif assessed_at > report.checks.now + CLOCK_SKEW:
        report.problem("assessed_at", f"{assessed_at.isoformat()} is in the future")


def _check_details(draft: AttemptDraft, report: _Report) -> None:
    if draft.assessment_kind not in ASSESSMENT_KINDS:
        allowed = ", ".join(ASSESSMENT_KINDS)
        report.problem("assessment_kind", f"unknown kind {draft.assessment_kind!r} ({allowed})")
    if draft.assessment_ref is not None and len(draft.assessment_ref) > MAX_REF:
        report.problem("assessment_ref", f"must be at most {MAX_REF} characters")
    if not draft.weight.is_finite() or draft.weight < 0:
        report.problem("weight", f"{draft.weight} is not a number of 0 or more")
    if len(draft.tags) > MAX_TAGS:
        report.problem("tags", f"at most {MAX_TAGS} tags")
    for index, tag in enumerate(draft.tags):
        if not tag.strip():
            report.problem(f"tags[{index}]", "must not be empty")
        elif len(tag.strip()) > MAX_TAG:
            report.problem(f"tags[{index}]", f"must be at most {MAX_TAG} characters")
    if draft.comment is not None and len(draft.comment) > MAX_COMMENT:
        report.problem("comment", f"must be at most {MAX_COMMENT} characters")
    if draft.artifact_url is not None:
        problem = url_problem(draft.artifact_url)
        if problem:
            report.problem("artifact_url", problem)


def url_problem(url: str) -> str | None:
    if len(url) > MAX_URL:
        return f"must be at most {MAX_URL} characters"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"{url!r} is not an absolute http(s) URL"
    return None


def normal_tags(tags: Sequence[str], kind: str) -> tuple[str, ...]:
    """Lower case, trimmed, each once, in order; self-assessments get their tag."""
    found: list[str] = []
    for tag in [*tags, *([SELF_ASSESSMENT_TAG] if kind == "self_assessment" else [])]:
        tag = tag.strip().lower()
        if tag and tag not in found:
            found.append(tag)
    return tuple(found)


def prepare(draft: AttemptDraft, checks: Checks, new_id: Callable[[], str]) -> list[NewAttempt]:
    """The attempts (one per outcome) of an item, or :class:`Rejected` with every problem."""
    problems = check_draft(draft, checks)
    if problems:
        raise Rejected(problems)
    assert draft.assessed_at is not None
    attempts = []
    for entry in draft.entries:
        outcome = checks.catalog.outcome(entry.outcome_id.strip())
        assert outcome is not None
        attempts.append(
            NewAttempt(
                attempt_id=new_id(),
                student_id=draft.student_id.strip(),
                outcome_id=outcome.outcome_id,
                outcome_revision=outcome.revision,
                scale=outcome.scale,
                status=entry.status,
                score=None if entry.score is None else on_scale(outcome.scale, entry.score),
                assessed_at=draft.assessed_at,
                recorded_at=checks.now,
                recorded_by=draft.recorded_by.strip(),
                assessment_ref=_text(draft.assessment_ref),
                assessment_kind=draft.assessment_kind,
                weight=draft.weight,
                tags=normal_tags(draft.tags, draft.assessment_kind),
                attempt_number=entry.attempt_number,
                retake_of=_text(entry.retake_of),
                comment=_text(draft.comment),
                artifact_url=_text(draft.artifact_url),
                source=draft.source,
                source_ref=draft.source_ref,
            )
        )
    return attempts


def plan_batch(
    drafts: Sequence[AttemptDraft], checks: Checks, new_id: Callable[[], str]
) -> tuple[list[list[NewAttempt]], list[Problem]]:
    """Each good row's attempts, and every bad row's problems (row-indexed), so that a caller
    can refuse the whole batch while reporting every row at fault."""
    problems: list[Problem] = []
    prepared: list[list[NewAttempt]] = []
    first_row: dict[tuple[str, str], int] = {}
    for row, draft in enumerate(drafts):
        try:
            prepared.append(prepare(draft, checks, new_id))
        except Rejected as rejected:
            prepared.append([])
            problems.extend(p.at_row(row) for p in rejected.problems)
            continue
        for index, entry in enumerate(draft.entries):
            key = (draft.student_id.strip(), entry.outcome_id.strip())
            if key in first_row:
                problems.append(
                    Problem(
                        "outcome_id",
                        f"student {key[0]!r} already has outcome {key[1]!r} in row "
                        f"{first_row[key] + 1} of this batch",
                        row,
                        index,
                    )
                )
            first_row.setdefault(key, row)
    if not drafts:
        problems.append(Problem("rows", "at least one row is required"))
    return prepared, problems


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None
