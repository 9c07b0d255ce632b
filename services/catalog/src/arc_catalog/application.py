"""Catalog use cases: thin, get-call-save-return."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from arc_catalog.domain import (
    InvalidDefinition,
    Outcome,
    ProficiencyScale,
    check_text,
    default_outcome_id,
    outcome_aggregate_id,
)


@dataclass(frozen=True)
class Defined:
    outcome: Outcome
    position: int | None  # None when nothing new was recorded (same definition again)


class CatalogApplication(Application[UUID]):
    name = "catalog"

    def define_outcome(
        self,
        *,
        outcome_id: str,
        code: str,
        statement: str,
        scale: ProficiencyScale,
        traceparent: str = "",
    ) -> Defined:
        """Define an outcome, or record a new revision when its definition changed."""
        code = check_text("code", code)
        statement = check_text("statement", statement)
        outcome_id = outcome_id.strip() or default_outcome_id(code)
        existing = self.find_outcome(outcome_id)
        if existing is None:
            outcome = Outcome(
                outcome_id=outcome_id,
                code=code,
                statement=statement,
                scale=scale.to_primitive(),
                traceparent=traceparent,
            )
        elif existing.same_definition(code, statement, scale):
            return Defined(existing, None)
        else:
            outcome = existing
            outcome.revise(outcome_id, code, statement, scale.to_primitive(), traceparent)
        recordings = self.save(outcome)
        return Defined(outcome, recordings[-1].notification.id)

    def find_outcome(self, outcome_id: str) -> Outcome | None:
        try:
            outcome: Outcome = self.repository.get(outcome_aggregate_id(outcome_id))
        except AggregateNotFoundError:
            return None
        return outcome


__all__ = ["CatalogApplication", "Defined", "InvalidDefinition"]
