"""The one place that knows both reporting's stored events and its published contract."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from arc_contracts import ContractEvent, MasteryWarningV1
from arc_reporting.warning_store import StudentWarnings


def translate(domain_event: Any) -> ContractEvent | None:
    if isinstance(domain_event, StudentWarnings.WarningChanged):  # type: ignore[attr-defined]
        return MasteryWarningV1(
            warning_id=domain_event.warning_id,
            state=domain_event.state,
            student_id=domain_event.student_id,
            outcome_id=domain_event.outcome_id,
            course_ids=tuple(domain_event.course_ids),
            reasons=tuple(domain_event.reasons),
            detail=domain_event.detail,
            status=domain_event.status,
            value=None if domain_event.value is None else Decimal(domain_event.value),
            level_label=domain_event.level_label,
            last_evidence_at=domain_event.last_evidence_at,
            rule=dict(domain_event.rule),
            evaluated_at=domain_event.evaluated_at,
        )
    return None
