"""Events the reporting service publishes, version 1.

``mastery_warning`` tells integrators (student information systems, intervention trackers) that
a student needs support on an outcome, by the early-warning rule documented in
services/reporting/README.md, and again when that changes or no longer holds.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import Field

from arc_contracts.base import ContractEvent
from arc_contracts.mastery_v1 import MasteryStatus

#: ``stalled``: several pieces of evidence since the level last rose, still not mastered;
#: ``dropped``: the level fell recently; ``no_recent_evidence``: a not-yet-mastered power
#: outcome without new evidence for some weeks.
WarningReason = Literal["stalled", "dropped", "no_recent_evidence"]


class MasteryWarningV1(ContractEvent):
    """A student's early warning on one outcome was raised, changed (other reasons) or cleared.
    One warning (``warning_id``) lives from ``raised`` to ``cleared``; each state change is
    published exactly once."""

    context: ClassVar[str] = "reporting"
    name: ClassVar[str] = "mastery_warning"
    version: ClassVar[int] = 1
    partitioned: ClassVar[bool] = True

    warning_id: str
    state: Literal["raised", "updated", "cleared"]
    student_id: str
    outcome_id: str
    course_ids: tuple[str, ...] = Field((), description="Courses of the student assessing it.")
    reasons: tuple[WarningReason, ...] = Field(description="Empty when cleared.")
    detail: str = Field(description="Plain-language explanation, e.g. for a teacher's list.")
    status: MasteryStatus = Field(description="The student's standing on the outcome then.")
    value: Decimal | None = None
    level_label: str | None = None
    last_evidence_at: datetime | None = Field(None, description="Newest evidence recorded.")
    rule: dict[str, str] = Field(
        default_factory=dict, description="The rule's parameters in force, e.g. quiet_weeks."
    )
    evaluated_at: datetime

    def partition_key(self) -> str:
        return self.student_id
