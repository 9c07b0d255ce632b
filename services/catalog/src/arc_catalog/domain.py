"""Catalog domain: outcomes and their proficiency scales. Pure Python, no I/O."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

OUTCOME_NAMESPACE = uuid5(NAMESPACE_URL, "https://masteryarc.org/outcomes")


class InvalidDefinition(ValueError):
    """A definition that breaks a catalog rule; ``field`` names what is at fault."""

    def __init__(self, field: str, description: str) -> None:
        super().__init__(f"{field}: {description}")
        self.field = field
        self.description = description


@dataclass(frozen=True)
class ScaleLevel:
    value: Decimal
    label: str


@dataclass(frozen=True)
class ProficiencyScale:
    """Ordered levels (lowest first) and the score at which an outcome counts as mastered."""

    name: str
    levels: tuple[ScaleLevel, ...]
    mastery_threshold: Decimal

    def __post_init__(self) -> None:
        if len(self.levels) < 2:
            raise InvalidDefinition("scale.levels", "a scale needs at least two levels")
        values = [level.value for level in self.levels]
        if any(low >= high for low, high in itertools.pairwise(values)):
            raise InvalidDefinition("scale.levels", "level values must strictly increase")
        for index, level in enumerate(self.levels):
            if not level.label.strip():
                raise InvalidDefinition(f"scale.levels[{index}].label", "a level needs a label")
        if not values[0] <= self.mastery_threshold <= values[-1]:
            raise InvalidDefinition(
                "scale.mastery_threshold",
                f"{self.mastery_threshold} is outside the scale {values[0]}–{values[-1]}",
            )

    def to_primitive(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "levels": [{"value": level.value, "label": level.label} for level in self.levels],
            "mastery_threshold": self.mastery_threshold,
        }

    @classmethod
    def from_primitive(cls, data: dict[str, Any]) -> ProficiencyScale:
        return cls(
            name=data["name"],
            levels=tuple(
                ScaleLevel(Decimal(level["value"]), level["label"]) for level in data["levels"]
            ),
            mastery_threshold=Decimal(data["mastery_threshold"]),
        )


def outcome_aggregate_id(outcome_id: str) -> UUID:
    return uuid5(OUTCOME_NAMESPACE, outcome_id)


def default_outcome_id(code: str) -> str:
    """An outcome defined without an id gets one derived from its code."""
    return code.strip().lower()


def check_text(field: str, value: str) -> str:
    if not value.strip():
        raise InvalidDefinition(field, "must not be empty")
    return value.strip()


class Outcome(Aggregate):
    """A learning outcome (competency, standard). Its version is its revision number."""

    class Defined(Aggregate.Created):
        outcome_id: str
        code: str
        statement: str
        scale: dict[str, Any]
        traceparent: str

    class Revised(Aggregate.Event):
        outcome_id: str
        code: str
        statement: str
        scale: dict[str, Any]
        traceparent: str

    @staticmethod
    def create_id(outcome_id: str, **_: Any) -> UUID:
        return outcome_aggregate_id(outcome_id)

    @event(Defined)
    def __init__(
        self, outcome_id: str, code: str, statement: str, scale: dict[str, Any], traceparent: str
    ) -> None:
        self.outcome_id = outcome_id
        self.code = code
        self.statement = statement
        self.scale = scale

    def same_definition(self, code: str, statement: str, scale: ProficiencyScale) -> bool:
        return (
            self.code == code
            and self.statement == statement
            and ProficiencyScale.from_primitive(self.scale) == scale
        )

    @event(Revised)
    def revise(
        self, outcome_id: str, code: str, statement: str, scale: dict[str, Any], traceparent: str
    ) -> None:
        """A new revision; earlier revisions stay in the history unchanged. Every revision event
        repeats the whole definition, so a reader of one event needs no other."""
        self.code = code
        self.statement = statement
        self.scale = scale

    @property
    def revision(self) -> int:
        return int(self.version)
