"""From a student's evidence on one outcome to their standing: which evidence counts (and why
the rest does not), in which order, the value by the policy's method, the level and the status.
Pure Python, no I/O.

Order: by assessed-at (when the student showed it), ties by recorded-at, then by attempt id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from functools import cached_property

from arc_mastery.methods import Calculation, Method, ScaleRange, Score, Status, method_from_spec

#: When no policy names a method: the newest score, the simplest rule to explain to a family.
DEFAULT_METHOD = "most_recent"


@dataclass(frozen=True)
class Level:
    value: Decimal
    label: str


@dataclass(frozen=True)
class Scale:
    """The parts of a proficiency scale a calculation needs."""

    levels: tuple[Level, ...]
    minimum: Decimal
    maximum: Decimal
    mastery_threshold: Decimal
    step: Decimal | None = None
    scale_id: str = "default"
    revision: int = 1

    def range(self) -> ScaleRange:
        return self._range

    @cached_property
    def _range(self) -> ScaleRange:
        """Built (and checked) once per scale: every standing computed asks for it."""
        return ScaleRange(self.minimum, self.maximum, self.mastery_threshold, self.step)

    def level_of(self, value: Decimal) -> Level | None:
        """The highest level whose value is at or below ``value``."""
        found = None
        for level in self.levels:
            if level.value <= value:
                found = level
        return found

    def approaching_from(self) -> Decimal:
        """Values from here up to the threshold are "approaching": the level just below the
        threshold (unless that is the scale's lowest level), otherwise halfway from the minimum
        to the threshold."""
        below = [level.value for level in self.levels if level.value < self.mastery_threshold]
        if below and max(below) > self.minimum:
            return max(below)
        return (self.minimum + self.mastery_threshold) / 2


@dataclass(frozen=True)
class Policy:
    """How values are calculated for an outcome (resolved network → course → outcome)."""

    method: str = DEFAULT_METHOD
    params: tuple[tuple[str, str], ...] = ()
    excluded_evidence_tags: frozenset[str] = frozenset()
    policy_id: str | None = None
    revision: int | None = None

    def param_dict(self) -> dict[str, str]:
        return dict(self.params)

    @cached_property
    def calculation_method(self) -> Method:
        """The method with its parameters checked, once per policy (not per standing)."""
        return method_from_spec(self.method, self.param_dict())


@dataclass(frozen=True, slots=True)
class Evidence:
    """One attempt as mastery knows it (``voided_at`` set once a void arrives)."""

    attempt_id: str
    status: str  # scored, excused, missing
    score: Decimal | None
    assessed_at: datetime
    recorded_at: datetime
    weight: Decimal = Decimal(1)
    tags: frozenset[str] = frozenset()
    kind: str = "test"
    supersedes: str | None = None
    voided_at: datetime | None = None
    void_reason: str | None = None

    def sort_key(self) -> tuple[datetime, datetime, str]:
        return (self.assessed_at, self.recorded_at, self.attempt_id)


@dataclass(frozen=True)
class Counted:
    evidence: Evidence
    contribution: Decimal | None  # its weight in the result; None for fitted methods


@dataclass(frozen=True)
class Excluded:
    evidence: Evidence
    reason: str


@dataclass(frozen=True)
class Standing:
    value: Decimal | None
    level: Level | None
    status: str  # no_evidence, not_yet, approaching, mastered, needs_judgment
    evidence_count: int
    explanation: str = ""

    def same_as(self, other: Standing) -> bool:
        """Mastery changed when value, level or status did; more evidence giving the same
        standing is not a change (integrators are not told about every attempt)."""
        return (self.value, self.level, self.status) == (other.value, other.level, other.status)


NO_EVIDENCE = Standing(None, None, "no_evidence", 0, "no evidence yet")


@dataclass(frozen=True)
class Explanation:
    standing: Standing
    method: str
    params: dict[str, str]
    policy_id: str | None
    policy_revision: int | None
    counted: tuple[Counted, ...] = field(default_factory=tuple)
    excluded: tuple[Excluded, ...] = field(default_factory=tuple)


def exclusion_reason(item: Evidence, policy: Policy, superseded: dict[str, str]) -> str | None:
    """Why ``item`` does not count, or None when it counts."""
    if item.voided_at is not None:
        return f"voided: {item.void_reason or 'no reason given'}"
    if item.attempt_id in superseded:
        return f"superseded by {superseded[item.attempt_id]}"
    if item.status == "excused":
        return "excused (exempt): not a score"
    if item.status == "missing":
        return "missing (not submitted): not a score"
    excluded = (item.tags | {item.kind}) & policy.excluded_evidence_tags
    if excluded:
        return f"the policy does not count {', '.join(sorted(excluded))} evidence"
    if item.weight == 0:
        return "formative (weight 0): shown, not counted"
    return None


def sort_evidence(items: Sequence[Evidence]) -> list[Evidence]:
    return sorted(items, key=Evidence.sort_key)


def explain(items: Sequence[Evidence], policy: Policy, scale: Scale) -> Explanation:
    """The standing, with every piece of evidence either counted (with its contribution) or
    excluded (with the reason)."""
    ordered = sort_evidence(items)
    superseded = {
        item.supersedes: item.attempt_id
        for item in ordered
        if item.supersedes and item.voided_at is None
    }
    counted: list[Evidence] = []
    excluded: list[Excluded] = []
    for item in ordered:
        reason = exclusion_reason(item, policy, superseded)
        if reason is None:
            counted.append(item)
        else:
            excluded.append(Excluded(item, reason))
    method = policy.calculation_method
    scores = [Score(item.score, item.weight) for item in counted if item.score is not None]
    calculation = method.calculate(scores, scale.range())
    contributions = list(calculation.contributions) or [None] * len(counted)
    return Explanation(
        standing=standing_from(calculation, scale, len(counted)),
        method=policy.method,
        params=policy.param_dict(),
        policy_id=policy.policy_id,
        policy_revision=policy.revision,
        counted=tuple(
            Counted(item, share) for item, share in zip(counted, contributions, strict=True)
        ),
        excluded=tuple(excluded),
    )


def standing_from(calculation: Calculation, scale: Scale, count: int) -> Standing:
    if count == 0:
        return NO_EVIDENCE
    value = calculation.value
    if calculation.status is Status.NEEDS_TEACHER_JUDGMENT:
        return Standing(None, None, "needs_judgment", count, calculation.explanation)
    if value is None:
        return Standing(None, None, "not_yet", count, calculation.explanation)
    if value >= scale.mastery_threshold:
        status = "mastered"
    elif value >= scale.approaching_from():
        status = "approaching"
    else:
        status = "not_yet"
    return Standing(value, scale.level_of(value), status, count, calculation.explanation)


def known_at(items: Sequence[Evidence], moment: datetime) -> list[Evidence]:
    """The evidence as it was known at ``moment``: recorded by then; voids made later undone."""
    found = []
    for item in items:
        if item.recorded_at > moment:
            continue
        if item.voided_at is not None and item.voided_at > moment:
            item = replace(item, voided_at=None, void_reason=None)
        found.append(item)
    return found


def assessed_by(items: Sequence[Evidence], moment: datetime) -> list[Evidence]:
    """Everything known now about what students showed by ``moment``."""
    return [item for item in items if item.assessed_at <= moment]
