"""A score counts only if it lies on the outcome's scale: a level of a levels scale, or a
number in range (and on the step) of a numeric scale."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arc_contracts import ProficiencyScaleV1
from arc_evidence.scales import canonical, describe, from_fraction, on_scale
from tests.support.evidence import FOUR_LEVELS, PERCENT

NO_STEP = PERCENT.model_copy(update={"step": None, "minimum": Decimal(1), "maximum": Decimal(4)})


@pytest.mark.parametrize(("text", "expected"), [("3", "3"), ("3.0", "3"), ("4.00", "4")])
def test_a_level_scale_takes_its_level_values_in_any_spelling(text: str, expected: str) -> None:
    found = on_scale(FOUR_LEVELS, Decimal(text))
    assert found is not None and str(found) == expected


@pytest.mark.parametrize("text", ["0", "5", "2.5", "-1", "NaN", "Infinity"])
def test_a_level_scale_refuses_anything_else(text: str) -> None:
    assert on_scale(FOUR_LEVELS, Decimal(text)) is None


@pytest.mark.parametrize(("text", "expected"), [("0", "0"), ("87.50", "87.5"), ("100", "100")])
def test_a_numeric_scale_takes_numbers_in_range_on_its_step(text: str, expected: str) -> None:
    assert str(on_scale(PERCENT, Decimal(text))) == expected


@pytest.mark.parametrize("text", ["-0.5", "100.5", "87.25", "sNaN"])
def test_a_numeric_scale_refuses_numbers_off_range_or_step(text: str) -> None:
    assert on_scale(PERCENT, Decimal(text)) is None


def test_without_a_step_any_number_in_range_is_on_the_scale() -> None:
    assert on_scale(NO_STEP, Decimal("3.14159")) == Decimal("3.14159")
    assert on_scale(NO_STEP, Decimal("4.0001")) is None


def test_scales_describe_what_they_accept() -> None:
    assert describe(FOUR_LEVELS) == "(1, 2, 3, 4)"
    assert describe(PERCENT) == "0 to 100 in steps of 0.5"
    assert describe(NO_STEP) == "1 to 4"


@pytest.mark.parametrize(
    ("text", "expected"), [("1E+2", "100"), ("3.50", "3.5"), ("-0.00", "0"), ("0.10", "0.1")]
)
def test_canonical_numbers_are_short_and_plain(text: str, expected: str) -> None:
    assert str(canonical(Decimal(text))) == expected


def test_a_fraction_is_read_on_a_numeric_scale_rounded_half_up_to_its_step() -> None:
    assert from_fraction(PERCENT, Decimal("0.8725")) == Decimal("87.5")
    assert from_fraction(PERCENT, Decimal("0.8775")) == Decimal(88)
    assert from_fraction(NO_STEP, Decimal("0.5")) == Decimal("2.5")
    assert from_fraction(PERCENT, Decimal("1.5")) is None


def test_a_fraction_is_never_turned_into_a_proficiency_level() -> None:
    assert from_fraction(FOUR_LEVELS, Decimal("0.75")) is None


@given(st.integers(min_value=0, max_value=200))
def test_every_step_of_a_numeric_scale_is_on_it(steps: int) -> None:
    value = Decimal(steps) * Decimal("0.5")
    assert on_scale(PERCENT, value) == value


@given(st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-10, max_value=10))
def test_canonical_keeps_the_value(value: Decimal) -> None:
    assert canonical(value) == value and canonical(canonical(value)) == canonical(value)
    assert "E" not in str(canonical(value * 1000))


@given(st.decimals(min_value=0, max_value=1, places=4))
def test_any_fraction_lands_on_a_numeric_scale(fraction: Decimal) -> None:
    found = from_fraction(PERCENT, fraction)
    assert found is not None and on_scale(PERCENT, found) == found


def test_a_numeric_scale_needs_its_range() -> None:
    with pytest.raises(ValueError, match="minimum and maximum"):
        ProficiencyScaleV1(name="x", kind="numeric", mastery_threshold=Decimal(1))
