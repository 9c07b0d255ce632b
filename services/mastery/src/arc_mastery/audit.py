"""What an auditor runs: ``replay`` (a student's history step by step, with the value after
each step) and the comparison of a rebuilt projection with the live one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from arc_mastery.application import MasteryApplication, MasteryState
from arc_mastery.domain import StudentOutcomeMastery, standing_from_primitive


@dataclass(frozen=True)
class Step:
    when: str
    outcome_id: str
    what: str
    value_after: str


def _describe(event: Any) -> str:
    if isinstance(event, StudentOutcomeMastery.EvidenceNoted):
        score = event.score if event.status == "scored" else event.status
        extra = f", supersedes {event.supersedes}" if event.supersedes else ""
        return (
            f"evidence {event.attempt_id}: {score} assessed {event.assessed_at:%Y-%m-%d}"
            f" ({event.kind}{extra})"
        )
    if isinstance(event, StudentOutcomeMastery.EvidenceVoided):
        return f"void of {event.attempt_id}: {event.reason}"
    if isinstance(event, StudentOutcomeMastery.StandingChanged):
        cause = event.cause_kind.replace("_", " ")
        return f"standing changed ({cause}; {event.method} {event.params or ''})".rstrip()
    return "started"


def replay(app: MasteryApplication, student_id: str, outcome_id: str | None) -> Iterator[Step]:
    """Every stored event for the student (one outcome or all), in order, with the standing
    after each step."""
    outcomes = [outcome_id] if outcome_id else app.outcomes_of_student(student_id)
    for outcome in outcomes:
        current = "no evidence"
        for event in app.history(student_id, outcome):
            if isinstance(event, StudentOutcomeMastery.StandingChanged):
                standing = standing_from_primitive(event.after)
                label = standing.level.label if standing.level else ""
                current = (
                    f"{standing.value if standing.value is not None else '—'} "
                    f"{label} [{standing.status}]".replace("  ", " ")
                )
            yield Step(f"{event.timestamp:%Y-%m-%d %H:%M:%S}", outcome, _describe(event), current)


@dataclass(frozen=True)
class Difference:
    student_id: str
    outcome_id: str
    live: MasteryState | None
    rebuilt: MasteryState | None


def compare(live: list[MasteryState], rebuilt: list[MasteryState]) -> list[Difference]:
    """Pairs whose value, status, evidence or number of changes differ."""
    by_key_live = {(s.student_id, s.outcome_id): s for s in live}
    by_key_rebuilt = {(s.student_id, s.outcome_id): s for s in rebuilt}
    found = []
    for key in sorted(by_key_live.keys() | by_key_rebuilt.keys()):
        left, right = by_key_live.get(key), by_key_rebuilt.get(key)
        if left != right:
            found.append(Difference(key[0], key[1], left, right))
    return found
