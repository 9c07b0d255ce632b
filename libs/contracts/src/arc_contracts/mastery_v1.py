"""Events the mastery service publishes, version 1."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from arc_contracts.base import ContractEvent


class MasteryChangedV1(ContractEvent):
    """A student's calculated level on an outcome changed. ``level`` is None when no counted
    evidence remains (e.g. after a void)."""

    context: ClassVar[str] = "mastery"
    name: ClassVar[str] = "mastery_changed"
    version: ClassVar[int] = 1

    student_id: str
    outcome_id: str
    level: Decimal | None
    previous_level: Decimal | None
    mastered: bool
    method: str
    evidence_count: int
    triggered_by_attempt_id: str
    changed_at: datetime
