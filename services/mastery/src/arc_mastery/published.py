"""The one place that knows both mastery's stored events and its published contracts."""

from __future__ import annotations

from typing import Any

from arc_contracts import ContractEvent, MasteryChangedV1
from arc_mastery.domain import StudentOutcomeMastery


def translate(domain_event: Any) -> ContractEvent | None:
    if isinstance(domain_event, StudentOutcomeMastery.LevelChanged):
        return MasteryChangedV1(
            student_id=domain_event.student_id,
            outcome_id=domain_event.outcome_id,
            level=domain_event.level,
            previous_level=domain_event.previous_level,
            mastered=domain_event.mastered,
            method=domain_event.method,
            evidence_count=domain_event.evidence_count,
            triggered_by_attempt_id=domain_event.triggered_by_attempt_id,
            changed_at=domain_event.timestamp,
        )
    return None
