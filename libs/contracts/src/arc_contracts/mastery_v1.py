"""Events the mastery service publishes, version 1. Integrators rely on these: see the AsyncAPI
document and README ("Subscribing to mastery changes")."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from arc_contracts.base import ContractEvent

#: ``needs_judgment``: the method cannot decide (e.g. a tie for mode); a teacher must.
MasteryStatus = Literal["no_evidence", "not_yet", "approaching", "mastered", "needs_judgment"]


class MasteryValueV1(BaseModel):
    """A student's standing on one outcome at one moment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: Decimal | None = Field(description="Calculated value, 2 decimals; None: no value.")
    level: Decimal | None = Field(description="Highest scale level whose value is <= value.")
    level_label: str | None = None
    status: MasteryStatus
    evidence_count: int = Field(0, description="Pieces of evidence counted.")


class MasteryCauseV1(BaseModel):
    """What made the value change."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["evidence", "void", "policy_change", "scale_change", "rebuild"]
    event_id: str = Field(description="CloudEvents id of the event that caused the change.")
    attempt_id: str | None = None
    policy_id: str | None = None


class MasteryChangedV1(ContractEvent):
    """A student's mastery of an outcome changed (value, level or status). Published exactly once
    per change, never when a recalculation gives the same result (more evidence giving the same
    standing is not a change). ``cause`` names the evidence, void, policy or scale change behind
    it. Subscribe with a JetStream ordered consumer from a start time or sequence to resume:
    examples/mastery_subscriber.py is a complete subscriber; ce-id identifies each change."""

    context: ClassVar[str] = "mastery"
    name: ClassVar[str] = "mastery_changed"
    version: ClassVar[int] = 1
    partitioned: ClassVar[bool] = True

    student_id: str
    outcome_id: str
    before: MasteryValueV1
    after: MasteryValueV1
    method: str
    params: dict[str, str] = Field(default_factory=dict)
    policy_id: str | None = None
    policy_revision: int | None = None
    cause: MasteryCauseV1
    assessed_at: datetime | None = Field(None, description="Of the evidence that caused it.")
    recorded_at: datetime | None = Field(None, description="Of the evidence that caused it.")
    changed_at: datetime

    def partition_key(self) -> str:
        return self.student_id
