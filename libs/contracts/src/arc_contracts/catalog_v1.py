"""Events the catalog publishes, version 1."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from arc_contracts.base import ContractEvent


class ScaleLevelV1(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    value: Decimal
    label: str = Field(min_length=1)


class ProficiencyScaleV1(BaseModel):
    """Ordered levels (lowest first) and the score at which an outcome counts as mastered."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    levels: tuple[ScaleLevelV1, ...] = Field(min_length=2)
    mastery_threshold: Decimal


class OutcomeDefinedV1(ContractEvent):
    """A learning outcome (competency, standard) was defined, or revised, with its scale."""

    context: ClassVar[str] = "catalog"
    name: ClassVar[str] = "outcome_defined"
    version: ClassVar[int] = 1

    outcome_id: str
    code: str
    statement: str
    scale: ProficiencyScaleV1
    revision: int = Field(ge=1, description="Revision of the outcome this event describes.")
