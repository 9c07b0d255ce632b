"""The one place that knows both evidence's stored events and its published contracts. Each
published event carries everything a consumer needs: the scale scored against, the status, the
links to retaken and superseded attempts, the void's reason and actor."""

from __future__ import annotations

from typing import Any

from arc_contracts import AttemptRecordedV1, AttemptVoidedV1, ContractEvent, ProficiencyScaleV1
from arc_evidence.domain import StudentEvidence


def translate(domain_event: Any) -> ContractEvent | None:
    if isinstance(domain_event, StudentEvidence.AttemptRecorded):
        return attempt_recorded(domain_event)
    if isinstance(domain_event, StudentEvidence.AttemptVoided):
        return attempt_voided(domain_event)
    return None  # students opened, idempotency records and xAPI statements stay private


def attempt_recorded(event: StudentEvidence.AttemptRecorded) -> AttemptRecordedV1:
    return AttemptRecordedV1.model_validate(
        {
            "attempt_id": event.attempt_id,
            "student_id": event.student_id,
            "outcome_id": event.outcome_id,
            "outcome_revision": event.outcome_revision,
            "scale": ProficiencyScaleV1.model_validate(event.scale),
            "status": event.status,
            "score": event.score,
            "assessed_at": event.assessed_at,
            "recorded_at": event.recorded_at,
            "recorded_by": event.recorded_by,
            "assessment_ref": event.assessment_ref,
            "assessment_kind": event.assessment_kind,
            "weight": event.weight,
            "tags": tuple(event.tags),
            "attempt_number": event.attempt_number,
            "retake_of": event.retake_of,
            "supersedes": event.supersedes,
            "comment": event.comment,
            "artifact_url": event.artifact_url,
            "source": event.source,
            "source_ref": event.source_ref,
            "correction_reason": event.correction_reason,
        }
    )


def attempt_voided(event: StudentEvidence.AttemptVoided) -> AttemptVoidedV1:
    return AttemptVoidedV1(
        attempt_id=event.attempt_id,
        student_id=event.student_id,
        outcome_id=event.outcome_id,
        reason=event.reason,
        voided_by=event.voided_by,
        voided_at=event.voided_at,
    )
