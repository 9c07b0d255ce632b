"""The one place that knows both the catalog's stored events and its published contracts."""

from __future__ import annotations

from typing import Any

from arc_catalog.domain import Outcome
from arc_contracts import ContractEvent, OutcomeDefinedV1, ProficiencyScaleV1


def translate(domain_event: Any) -> ContractEvent | None:
    if isinstance(domain_event, Outcome.Defined | Outcome.Revised):
        return OutcomeDefinedV1(
            outcome_id=domain_event.outcome_id,
            code=domain_event.code,
            statement=domain_event.statement,
            scale=ProficiencyScaleV1.model_validate(domain_event.scale),
            revision=domain_event.originator_version,
        )
    return None
