"""Which policy applies to an outcome, as of a moment: outcome → course → network → default.
Pure Python, no I/O.

An outcome assessed by several courses with different course policies takes the policy of the
first such course by course id, so that the choice is stable and explainable; an outcome-level
policy removes the ambiguity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from arc_mastery.standing import Policy


@dataclass(frozen=True)
class PolicyRecord:
    policy_id: str
    revision: int
    scope: str  # network, course, outcome
    scope_id: str | None
    method: str
    params: tuple[tuple[str, str], ...]
    excluded_evidence_tags: frozenset[str]
    known_at: datetime

    def policy(self) -> Policy:
        return Policy(
            method=self.method,
            params=self.params,
            excluded_evidence_tags=self.excluded_evidence_tags,
            policy_id=self.policy_id,
            revision=self.revision,
        )


def latest(
    records: Iterable[PolicyRecord], at: datetime | None
) -> dict[tuple[str, str | None], PolicyRecord]:
    """The newest revision per scope known at ``at`` (now when None)."""
    found: dict[tuple[str, str | None], PolicyRecord] = {}
    for record in sorted(records, key=lambda r: (r.known_at, r.revision)):
        if at is not None and record.known_at > at:
            continue
        found[(record.scope, record.scope_id)] = record
    return found


def resolve(
    records: Iterable[PolicyRecord],
    outcome_id: str,
    courses_assessing: Sequence[str],
    at: datetime | None = None,
) -> Policy:
    current = latest(records, at)
    chosen = current.get(("outcome", outcome_id))
    if chosen is None:
        for course_id in sorted(courses_assessing):
            chosen = current.get(("course", course_id))
            if chosen is not None:
                break
    if chosen is None:
        chosen = current.get(("network", None))
    return chosen.policy() if chosen is not None else Policy()


def outcomes_affected(
    record: PolicyRecord,
    outcomes_of_course: Mapping[str, Sequence[str]],
    all_outcomes: Iterable[str],
) -> list[str]:
    """Outcomes whose resolved policy may change when ``record`` arrives."""
    if record.scope == "outcome" and record.scope_id:
        return [record.scope_id]
    if record.scope == "course" and record.scope_id:
        return list(outcomes_of_course.get(record.scope_id, ()))
    return sorted(set(all_outcomes))
