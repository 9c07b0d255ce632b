"""Events the evidence service publishes, version 1."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from pydantic import AwareDatetime, Field

from arc_contracts.base import ContractEvent
from arc_contracts.catalog_v1 import ProficiencyScaleV1


class AttemptRecordedV1(ContractEvent):
    """A student showed evidence of an outcome. Carries the scale it was scored against, so a
    consumer never has to call back to interpret the score."""

    context: ClassVar[str] = "evidence"
    name: ClassVar[str] = "attempt_recorded"
    version: ClassVar[int] = 1

    attempt_id: str
    student_id: str
    outcome_id: str
    outcome_revision: int = Field(ge=1)
    scale: ProficiencyScaleV1
    score: Decimal
    assessed_at: AwareDatetime
    recorded_at: datetime
    recorded_by: str
