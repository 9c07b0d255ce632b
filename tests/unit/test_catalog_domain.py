"""A network admin defines outcomes on proficiency scales; revisions never rewrite history."""

from __future__ import annotations

from decimal import Decimal

import pytest

from arc_catalog.application import CatalogApplication
from arc_catalog.domain import InvalidDefinition, ProficiencyScale, ScaleLevel
from arc_catalog.published import translate
from arc_contracts import OutcomeDefinedV1


def scale(*values: int, threshold: int = 3) -> ProficiencyScale:
    return ProficiencyScale(
        "test", tuple(ScaleLevel(Decimal(v), f"L{v}") for v in values), Decimal(threshold)
    )


def test_a_scale_round_trips_through_primitives() -> None:
    original = scale(1, 2, 3, 4)
    assert ProficiencyScale.from_primitive(original.to_primitive()) == original


@pytest.mark.parametrize(
    ("values", "threshold", "field"),
    [
        ((1,), 1, "scale.levels"),
        ((1, 3, 2), 2, "scale.levels"),
        ((1, 1, 2), 2, "scale.levels"),
        ((1, 2, 3, 4), 5, "scale.mastery_threshold"),
        ((1, 2, 3, 4), 0, "scale.mastery_threshold"),
    ],
)
def test_a_broken_scale_names_the_field_at_fault(
    values: tuple[int, ...], threshold: int, field: str
) -> None:
    with pytest.raises(InvalidDefinition) as caught:
        scale(*values, threshold=threshold)
    assert caught.value.field == field


def test_a_level_needs_a_label() -> None:
    with pytest.raises(InvalidDefinition, match=r"scale.levels\[1\].label"):
        ProficiencyScale(
            "x", (ScaleLevel(Decimal(1), "a"), ScaleLevel(Decimal(2), " ")), Decimal(1)
        )


def app() -> CatalogApplication:
    return CatalogApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def test_defining_twice_is_a_no_op_and_changing_records_a_revision() -> None:
    catalog = app()
    first = catalog.define_outcome(
        outcome_id="", code="SCI.1", statement="I can", scale=scale(1, 2, 3, 4)
    )
    assert first.position == 1 and first.outcome.outcome_id == "sci.1"
    again = catalog.define_outcome(
        outcome_id="", code="SCI.1", statement="I can", scale=scale(1, 2, 3, 4)
    )
    assert again.position is None and again.outcome.revision == 1
    revised = catalog.define_outcome(
        outcome_id="sci.1", code="SCI.1", statement="I can explain", scale=scale(1, 2, 3, 4)
    )
    assert revised.outcome.revision == 2
    published = [
        translate(catalog.mapper.to_domain_event(n))
        for n in catalog.recorder.select_notifications(0, 10)
    ]
    assert [(p.revision, p.statement) for p in published if isinstance(p, OutcomeDefinedV1)] == [
        (1, "I can"),
        (2, "I can explain"),
    ]


@pytest.mark.parametrize("field", ["code", "statement"])
def test_empty_text_is_refused(field: str) -> None:
    values = {"code": "X.1", "statement": "I can"} | {field: "  "}
    with pytest.raises(InvalidDefinition) as caught:
        app().define_outcome(outcome_id="", scale=scale(1, 2, 3), **values)
    assert caught.value.field == field
