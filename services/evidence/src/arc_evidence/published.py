"""The one place that knows both evidence's stored events and its published contracts."""

from __future__ import annotations

from typing import Any

from arc_contracts import AttemptRecordedV1, ContractEvent, ProficiencyScaleV1
from arc_evidence.domain import StudentEvidence


def translate(domain_event: Any) -> ContractEvent | None:
    if isinstance(domain_event, StudentEvidence.AttemptRecorded):
        return attempt_recorded(domain_event)
    return None


def attempt_recorded(event: StudentEvidence.AttemptRecorded) -> AttemptRecordedV1:
    return AttemptRecordedV1(
        attempt_id=event.attempt_id,
        student_id=event.student_id,
        outcome_id=event.outcome_id,
        outcome_revision=event.outcome_revision,
        scale=ProficiencyScaleV1.model_validate(event.scale),
        score=event.score,
        assessed_at=event.assessed_at,
        recorded_at=event.recorded_at,
        recorded_by=event.recorded_by,
    )
