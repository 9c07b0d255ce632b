"""Events the evidence service publishes, version 1.

Attempts are immutable: a correction is a void (``attempt_voided``) or a new attempt that
``supersedes`` the old one. Each event carries everything a consumer needs to interpret it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field, model_validator

from arc_contracts.base import ContractEvent
from arc_contracts.catalog_v1 import SEALED, ProficiencyScaleV1

AssessmentKind = Literal[
    "test",
    "project",
    "performance_task",
    "observation",
    "conversation",
    "portfolio_artifact",
    "self_assessment",
]
#: ``scored`` has a score; ``excused`` (exempt) and ``missing`` (not submitted) have none and
#: are never a zero.
AttemptStatus = Literal["scored", "excused", "missing"]


class AttemptRecordedV1(ContractEvent):
    """A student showed (or was excused from, or did not submit) evidence of an outcome."""

    context: ClassVar[str] = "evidence"
    name: ClassVar[str] = "attempt_recorded"
    version: ClassVar[int] = 1
    partitioned: ClassVar[bool] = True

    attempt_id: str
    student_id: str
    outcome_id: str
    outcome_revision: int = Field(ge=1)
    scale: ProficiencyScaleV1 = Field(description="The scale (and its revision) scored against.")
    status: AttemptStatus = "scored"
    score: Decimal | None
    assessed_at: AwareDatetime
    recorded_at: datetime
    recorded_by: str
    assessment_ref: str | None = None
    assessment_kind: AssessmentKind = "test"
    weight: Decimal = Field(Decimal(1), ge=0, description="0 = formative: shown, not counted.")
    tags: tuple[str, ...] = Field((), description="e.g. practice, reflection")
    attempt_number: int | None = Field(None, ge=1)
    retake_of: str | None = Field(None, description="Attempt id this is a retake of.")
    supersedes: str | None = Field(None, description="Attempt id this corrects and replaces.")
    comment: str | None = Field(None, description=SEALED)
    artifact_url: str | None = None
    source: str = Field("api", description="api, batch, xapi or csv")
    source_ref: str | None = Field(
        None, description="Where it came from, e.g. the xAPI statement id or CSV import id."
    )
    correction_reason: str | None = Field(
        None, description="With supersedes: why the superseded attempt was wrong. " + SEALED
    )

    @model_validator(mode="after")
    def _score_matches_status(self) -> AttemptRecordedV1:
        if (self.status == "scored") != (self.score is not None):
            raise ValueError("a scored attempt has a score; excused and missing ones have none")
        return self

    def partition_key(self) -> str:
        return self.student_id


class AttemptVoidedV1(ContractEvent):
    """An attempt no longer counts (recorded in error). The attempt stays in the history."""

    context: ClassVar[str] = "evidence"
    name: ClassVar[str] = "attempt_voided"
    version: ClassVar[int] = 1
    partitioned: ClassVar[bool] = True

    attempt_id: str
    student_id: str
    outcome_id: str
    reason: str = Field(min_length=1, description=SEALED)
    voided_by: str
    voided_at: datetime

    def partition_key(self) -> str:
        return self.student_id
