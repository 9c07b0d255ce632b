"""The one place that knows both mastery's stored events and its published contracts."""

from __future__ import annotations

from typing import Any

from arc_contracts import ContractEvent, MasteryCauseV1, MasteryChangedV1, MasteryValueV1
from arc_mastery.domain import StudentOutcomeMastery


def translate(domain_event: Any) -> ContractEvent | None:
    if isinstance(domain_event, StudentOutcomeMastery.StandingChanged):
        return mastery_changed(domain_event)
    return None


def mastery_changed(event: StudentOutcomeMastery.StandingChanged) -> MasteryChangedV1:
    return MasteryChangedV1(
        student_id=event.student_id,
        outcome_id=event.outcome_id,
        before=MasteryValueV1.model_validate(event.before),
        after=MasteryValueV1.model_validate(event.after),
        method=event.method,
        params=event.params,
        policy_id=event.policy_id,
        policy_revision=event.policy_revision,
        cause=MasteryCauseV1(
            kind=event.cause_kind,  # type: ignore[arg-type]
            event_id=event.cause_event_id,
            attempt_id=event.attempt_id,
            policy_id=event.policy_id if event.cause_kind == "policy_change" else None,
        ),
        assessed_at=event.assessed_at,
        recorded_at=event.recorded_at,
        changed_at=event.timestamp,
    )
