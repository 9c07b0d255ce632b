"""A teacher reads the class heat map: every student × outcome by level, sorted and filtered
the way she asks, with who has no evidence yet."""

from __future__ import annotations

from decimal import Decimal

import pytest

from arc_contracts import OutcomeDefinedV1
from arc_reporting.domain.asof import BadField
from arc_reporting.domain.heatmap import HeatMapOptions, cell_of, shape
from arc_reporting.domain.palette import NO_EVIDENCE_COLOUR, level_colour, text_on
from arc_reporting.domain.records import NO_EVIDENCE, Standing
from tests.support.reporting import FOUR

RATIOS = OutcomeDefinedV1(
    outcome_id="ratios", code="RP.1", statement="s", scale=FOUR, revision=1, tags=("academic",)
)
FRACTIONS = OutcomeDefinedV1(
    outcome_id="fractions", code="NS.1", statement="s", scale=FOUR, revision=1, tags=("academic",)
)
HABITS = OutcomeDefinedV1(
    outcome_id="persevere", code="HW.1", statement="s", scale=FOUR, revision=1, tags=("habits",)
)
OUTCOMES = [(RATIOS, True), (FRACTIONS, True), (HABITS, False)]
STUDENTS = [
    ("s-zoe", "Zoe Adams", ("adams", "zoe", "s-zoe")),
    ("s-maya", "Maya Garcia", ("garcia", "maya", "s-maya")),
    ("s-noah", "Noah Smith", ("smith", "noah", "s-noah")),
]


def at(value: int) -> Standing:
    status = "mastered" if value >= 3 else "approaching" if value == 2 else "not_yet"
    return Standing(
        status,
        Decimal(value),
        Decimal(value),
        {1: "Not yet", 2: "Approaching", 3: "Meets", 4: "Exceeds"}[value],
    )


STANDINGS = {
    ("s-maya", "ratios"): at(4),
    ("s-maya", "fractions"): at(3),
    ("s-noah", "ratios"): at(1),
    ("s-noah", "persevere"): at(2),
    ("s-zoe", "ratios"): at(3),
}


def names(options: HeatMapOptions) -> list[str]:
    return [row.student_id for row in shape(STUDENTS, OUTCOMES, STANDINGS, options).rows]


def test_rows_are_by_family_name_by_default_and_can_be_reversed() -> None:
    assert names(HeatMapOptions()) == ["s-zoe", "s-maya", "s-noah"]
    assert names(HeatMapOptions(descending=True)) == ["s-noah", "s-maya", "s-zoe"]


def test_sort_by_one_outcome_puts_the_lowest_first_and_no_evidence_last() -> None:
    assert names(HeatMapOptions(sort="outcome:fractions")) == ["s-maya", "s-zoe", "s-noah"]
    assert names(HeatMapOptions(sort="outcome:ratios")) == ["s-noah", "s-zoe", "s-maya"]
    assert names(HeatMapOptions(sort="outcome:ratios", descending=True)) == [
        "s-maya",
        "s-zoe",
        "s-noah",
    ]


def test_sort_by_mastered_count_and_by_need_for_support() -> None:
    assert names(HeatMapOptions(sort="mastered")) == ["s-maya", "s-zoe", "s-noah"]
    assert names(HeatMapOptions(sort="needs_support")) == ["s-zoe", "s-noah", "s-maya"]


def test_filters_choose_outcome_columns_and_students() -> None:
    power = shape(STUDENTS, OUTCOMES, STANDINGS, HeatMapOptions(power_only=True))
    assert [c.outcome_id for c in power.columns] == ["ratios", "fractions"]
    habits = shape(STUDENTS, OUTCOMES, STANDINGS, HeatMapOptions(tag="habits"))
    assert [c.outcome_id for c in habits.columns] == ["persevere"]
    assert names(HeatMapOptions(q="gar")) == ["s-maya"]
    assert names(HeatMapOptions(status="not_yet")) == ["s-noah"]
    assert shape(STUDENTS, OUTCOMES, STANDINGS, HeatMapOptions(q="x")).students_total == 3


def test_each_outcome_lists_the_students_without_evidence_in_name_order() -> None:
    heat = shape(STUDENTS, OUTCOMES, STANDINGS, HeatMapOptions())
    missing = {c.outcome_id: c.no_evidence for c in heat.columns}
    assert missing == {
        "ratios": (),
        "fractions": ("s-zoe", "s-noah"),
        "persevere": ("s-zoe", "s-maya"),
    }
    assert {c.outcome_id: c.mastered for c in heat.columns} == {
        "ratios": 2,
        "fractions": 1,
        "persevere": 0,
    }


def test_a_section_without_students_still_lists_its_outcomes() -> None:
    heat = shape([], OUTCOMES, {}, HeatMapOptions())
    assert [(c.outcome_id, c.mastered, c.with_evidence, c.no_evidence) for c in heat.columns] == [
        ("ratios", 0, 0, ()),
        ("fractions", 0, 0, ()),
        ("persevere", 0, 0, ()),
    ]
    assert heat.rows == [] and heat.students_total == 0


def test_cells_that_look_alike_are_equal_to_cells_made_one_by_one() -> None:
    heat = shape(STUDENTS, OUTCOMES, STANDINGS, HeatMapOptions())
    for row in heat.rows:
        for (outcome, _), cell in zip(OUTCOMES, row.cells, strict=True):
            standing = STANDINGS.get((row.student_id, outcome.outcome_id), NO_EVIDENCE)
            assert cell == cell_of(outcome, standing)


def test_cells_carry_a_label_and_colour_never_colour_alone() -> None:
    assert (
        cell_of(RATIOS, NO_EVIDENCE).label == "No evidence"
        and cell_of(RATIOS, NO_EVIDENCE).colour == NO_EVIDENCE_COLOUR
    )
    low, high = cell_of(RATIOS, at(1)), cell_of(RATIOS, at(4))
    assert (low.label, high.label) == ("Not yet", "Exceeds")
    assert low.colour != high.colour != NO_EVIDENCE_COLOUR
    assert (low.text_colour, high.text_colour) == ("#000000", "#ffffff")


def test_a_colour_the_scale_names_wins_and_text_keeps_contrast() -> None:
    coloured = FOUR.model_copy(
        update={
            "levels": tuple(
                lv.model_copy(update={"colour": "#222222"}) if lv.value == 3 else lv
                for lv in FOUR.levels
            )
        }
    )
    assert level_colour(coloured, Decimal(3), Decimal(3)) == "#222222"
    assert text_on("#222222") == "#ffffff" and text_on("#ffffd9") == "#000000"


@pytest.mark.parametrize(
    ("field", "options"),
    [
        ("sort", HeatMapOptions(sort="height")),
        ("sort", HeatMapOptions(sort="outcome:nope")),
        ("status", HeatMapOptions(status="great")),
    ],
)
def test_an_unknown_sort_or_status_names_the_field(field: str, options: HeatMapOptions) -> None:
    with pytest.raises(BadField) as raised:
        shape(STUDENTS, OUTCOMES, STANDINGS, options)
    assert raised.value.field == field
