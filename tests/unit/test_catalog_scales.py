"""A network admin defines proficiency scales: ordered levels with labels and colours, or a
numeric range; every broken rule names the field at fault."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest

from arc_catalog.domain.records import from_primitive, to_primitive
from arc_catalog.domain.scales import FOUR_LEVELS, ProficiencyScale, ScaleLevel, scale_problems


def levels(*values: int | str, threshold: int | str = 3) -> ProficiencyScale:
    return ProficiencyScale("test", tuple(ScaleLevel(D(v), f"L{v}") for v in values), D(threshold))


def numeric(low: str, high: str, step: str | None = None, threshold: str = "3") -> ProficiencyScale:
    return ProficiencyScale(
        "numeric",
        (),
        D(threshold),
        kind="numeric",
        minimum=D(low),
        maximum=D(high),
        step=D(step) if step else None,
    )


def fields(scale: ProficiencyScale) -> list[str]:
    return [v.field for v in scale_problems(scale)]


def test_the_usual_four_levels_are_a_good_scale() -> None:
    assert scale_problems(FOUR_LEVELS) == []
    assert [level.label for level in FOUR_LEVELS.levels] == [
        "Not yet",
        "Approaching",
        "Meets",
        "Exceeds",
    ]


@pytest.mark.parametrize(
    ("scale", "field"),
    [
        (levels(1), "scale.levels"),
        (levels(1, 3, 2, threshold=2), "scale.levels"),
        (levels(1, 1, 2, threshold=2), "scale.levels"),
        (levels(1, 2, 3, 4, threshold=5), "scale.mastery_threshold"),
        (levels(1, 2, 3, 4, threshold=0), "scale.mastery_threshold"),
        (replace(levels(1, 2, 3), name=" "), "scale.name"),
        (replace(levels(1, 2, 3), minimum=D(1)), "scale.minimum"),
        (replace(levels(1, 2, 3), step=D(1)), "scale.step"),
        (replace(levels(1, 2, 3), kind="stars"), "scale.kind"),  # type: ignore[arg-type]
    ],
)
def test_a_broken_levels_scale_names_the_field_at_fault(
    scale: ProficiencyScale, field: str
) -> None:
    assert field in fields(scale)


def test_a_threshold_between_levels_is_allowed_for_calculated_values() -> None:
    assert scale_problems(levels(1, 2, 3, 4, threshold="2.5")) == []


def test_each_level_needs_a_label_and_labels_are_unique() -> None:
    scale = ProficiencyScale(
        "x",
        (ScaleLevel(D(1), "Meets"), ScaleLevel(D(2), " "), ScaleLevel(D(3), "meets")),
        D(2),
    )
    problems = {(v.field, v.description) for v in scale_problems(scale)}
    assert ("scale.levels[1].label", "a level needs a label") in problems
    assert ("scale.levels", "the label 'meets' is used twice") in problems


@pytest.mark.parametrize("colour", ["#1b9e77", "#FA0", "#abcdef"])
def test_hex_colours_are_accepted(colour: str) -> None:
    scale = replace(
        FOUR_LEVELS, levels=(replace(FOUR_LEVELS.levels[0], colour=colour), *FOUR_LEVELS.levels[1:])
    )
    assert scale_problems(scale) == []


@pytest.mark.parametrize("colour", ["red", "#12345", "1b9e77", "#ggg", ""])
def test_a_colour_that_is_not_hex_is_refused_at_its_level(colour: str) -> None:
    scale = replace(
        FOUR_LEVELS,
        levels=(
            *FOUR_LEVELS.levels[:2],
            replace(FOUR_LEVELS.levels[2], colour=colour),
            FOUR_LEVELS.levels[3],
        ),
    )
    assert fields(scale) == ["scale.levels[2].colour"]


def test_numeric_scales_from_0_to_100_and_1_to_4_by_half_points() -> None:
    assert scale_problems(numeric("0", "100", threshold="70")) == []
    assert scale_problems(numeric("1.0", "4.0", "0.5", "3.0")) == []


@pytest.mark.parametrize(
    ("scale", "field"),
    [
        (replace(numeric("0", "100"), minimum=None), "scale.minimum"),
        (replace(numeric("0", "100"), maximum=None), "scale.maximum"),
        (numeric("4", "1"), "scale.maximum"),
        (numeric("1", "1"), "scale.maximum"),
        (numeric("1", "4", "0.7"), "scale.step"),
        (numeric("1", "4", "0"), "scale.step"),
        (numeric("1", "4", "-0.5"), "scale.step"),
        (numeric("0", "100", threshold="101"), "scale.mastery_threshold"),
        (
            replace(numeric("0", "100", threshold="70"), levels=(ScaleLevel(D(120), "Over"),)),
            "scale.levels[0].value",
        ),
    ],
)
def test_a_broken_numeric_scale_names_the_field_at_fault(
    scale: ProficiencyScale, field: str
) -> None:
    assert field in fields(scale)


def test_a_numeric_scale_may_label_ranges_with_levels() -> None:
    scale = replace(
        numeric("0", "100", threshold="70"),
        levels=(ScaleLevel(D(0), "Not yet"), ScaleLevel(D(70), "Meets", "#1b9e77")),
    )
    assert scale_problems(scale) == []
    assert scale.level_for(D("69.9")) == ScaleLevel(D(0), "Not yet")
    assert scale.level_for(D(85)) == ScaleLevel(D(70), "Meets", "#1b9e77")


def test_a_levels_scale_accepts_only_its_level_values() -> None:
    assert [FOUR_LEVELS.accepts(D(v)) for v in ("1", "2.5", "4", "5", "0")] == [
        True,
        False,
        True,
        False,
        False,
    ]


def test_a_numeric_scale_accepts_values_on_its_step_within_its_range() -> None:
    half_points = numeric("1", "4", "0.5")
    assert [half_points.accepts(D(v)) for v in ("1", "2.5", "2.7", "4", "4.5", "0.5")] == [
        True,
        True,
        False,
        True,
        False,
        False,
    ]
    percent = numeric("0", "100", threshold="70")
    assert percent.accepts(D("73.25")) and not percent.accepts(D("-1"))


def test_a_value_reads_as_the_highest_level_at_or_below_it() -> None:
    assert FOUR_LEVELS.level_for(D("2.99")) == FOUR_LEVELS.levels[1]
    assert FOUR_LEVELS.level_for(D(3)) == FOUR_LEVELS.levels[2]
    assert FOUR_LEVELS.level_for(D("0.5")) is None
    assert FOUR_LEVELS.is_mastered(D(3)) and not FOUR_LEVELS.is_mastered(D("2.99"))


def test_a_scale_round_trips_through_what_is_stored() -> None:
    for scale in (FOUR_LEVELS, numeric("1.0", "4.0", "0.5", "3.0")):
        assert from_primitive(ProficiencyScale, to_primitive(scale)) == scale
