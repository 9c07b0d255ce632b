"""The early-warning rule. Pure Python, no I/O.

A student gets a warning on an outcome of one of their courses when, at the moment of
evaluation, the outcome is not mastered and at least one of these holds:

- **stalled**: ``stall_attempts`` or more counted attempts (scored, not voided, not corrected,
  not practice) were recorded since the level last rose (since the first evidence, if it
  never rose);
- **dropped**: the newest level change lowered the level (or lost mastery) and was made
  within the last ``drop_weeks`` weeks;
- **no_recent_evidence**: it is a *power* outcome of the course and no evidence was recorded
  on it for ``quiet_weeks`` weeks (for a student without any evidence on it: enrolled in the
  section for that long).

The parameters are settings (``ARC_WARNING_STALL_ATTEMPTS``, ``ARC_WARNING_DROP_WEEKS``,
``ARC_WARNING_QUIET_WEEKS``) and travel with each published ``mastery_warning`` event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from arc_reporting.domain.asof import AttemptAsOf, last_evidence_at, utc
from arc_reporting.domain.records import Change, Standing


@dataclass(frozen=True)
class WarningRule:
    stall_attempts: int = 3
    drop_weeks: int = 4
    quiet_weeks: int = 3

    def params(self) -> dict[str, str]:
        return {
            "stall_attempts": str(self.stall_attempts),
            "drop_weeks": str(self.drop_weeks),
            "quiet_weeks": str(self.quiet_weeks),
        }


@dataclass(frozen=True)
class PairHistory:
    """What the rule looks at for one student on one outcome, as known at ``now``."""

    student_id: str
    outcome_id: str
    power: bool
    standing: Standing
    changes: Sequence[Change]  # known by now, any order
    attempts: Sequence[AttemptAsOf]  # recorded by now
    enrolled_since: datetime | None


@dataclass(frozen=True)
class Warning:
    student_id: str
    outcome_id: str
    reasons: tuple[str, ...]
    detail: str
    standing: Standing
    last_evidence_at: datetime | None


def evaluate(rule: WarningRule, now: datetime, pair: PairHistory) -> Warning | None:
    if pair.standing.mastered:
        return None
    found: list[tuple[str, str]] = []
    stalled = stalled_detail(rule, pair)
    if stalled:
        found.append(("stalled", stalled))
    dropped = _dropped(rule, now, pair)
    if dropped:
        found.append(("dropped", dropped))
    quiet = _quiet(rule, now, pair)
    if quiet:
        found.append(("no_recent_evidence", quiet))
    if not found:
        return None
    return Warning(
        pair.student_id,
        pair.outcome_id,
        tuple(reason for reason, _ in found),
        "; ".join(text for _, text in found),
        pair.standing,
        last_evidence_at(pair.attempts),
    )


def _ordered(changes: Sequence[Change]) -> list[Change]:
    return sorted(changes, key=lambda c: (utc(c.changed_at), c.sequence))


def stalled_detail(rule: WarningRule, pair: PairHistory) -> str | None:
    """Why the pair is stalled, or None."""
    if pair.standing.status == "no_evidence":
        return None
    rises = [c for c in _ordered(pair.changes) if c.rose]
    since = utc(rises[-1].changed_at) if rises else None
    later = [
        a
        for a in pair.attempts
        if a.counted and (since is None or utc(a.attempt.recorded_at) > since)
    ]
    if len(later) < rule.stall_attempts:
        return None
    label = pair.standing.label or pair.standing.status.replace("_", " ")
    return f"{len(later)} attempts since the level last rose, still {label}"


def _dropped(rule: WarningRule, now: datetime, pair: PairHistory) -> str | None:
    ordered = _ordered(pair.changes)
    if not ordered or not ordered[-1].dropped:
        return None
    newest = ordered[-1]
    if utc(newest.changed_at) < now - timedelta(weeks=rule.drop_weeks):
        return None
    before = newest.before_value if newest.before_value is not None else "none"
    after = newest.label or newest.status.replace("_", " ")
    return f"dropped from {before} to {newest.value} ({after}) on {utc(newest.changed_at):%Y-%m-%d}"


def _quiet(rule: WarningRule, now: datetime, pair: PairHistory) -> str | None:
    if not pair.power:
        return None
    quiet_since = now - timedelta(weeks=rule.quiet_weeks)
    newest = last_evidence_at(pair.attempts)
    if newest is not None:
        if newest >= quiet_since:
            return None
        return f"no new evidence on this power outcome since {newest:%Y-%m-%d}"
    if pair.enrolled_since is None or utc(pair.enrolled_since) >= quiet_since:
        return None
    return (
        f"no evidence yet on this power outcome, enrolled since {utc(pair.enrolled_since):%Y-%m-%d}"
    )
