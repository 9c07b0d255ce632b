"""Values many student-outcome pairs hold alike are kept once, and keeping them once never
changes what a pair holds: a value written differently (3 and 3.0) stays apart."""

from __future__ import annotations

from decimal import Decimal

from arc_contracts import ProficiencyScaleV1
from arc_mastery.application import scale_of, scale_primitive_of
from arc_mastery.domain import scale_to_primitive, shared_standing, standing_from_primitive


def four_point(threshold: str = "3", name: str = "Four-point") -> ProficiencyScaleV1:
    return ProficiencyScaleV1.model_validate(
        {
            "scale_id": "four",
            "name": name,
            "mastery_threshold": threshold,
            "levels": [
                {"value": v, "label": label}
                for v, label in [(1, "Not yet"), (2, "Approaching"), (3, "Meets"), (4, "Exceeds")]
            ],
        }
    )


def test_a_scale_arriving_with_every_attempt_is_converted_once() -> None:
    first = scale_primitive_of(four_point())
    again = scale_primitive_of(four_point())
    assert again is first
    assert first == scale_to_primitive(scale_of(four_point()))


def test_a_scale_written_differently_is_kept_apart() -> None:
    plain = scale_primitive_of(four_point("3"))
    with_decimals = scale_primitive_of(four_point("3.0"))
    assert with_decimals is not plain
    assert str(with_decimals["mastery_threshold"]) == "3.0"
    assert str(plain["mastery_threshold"]) == "3"


def test_a_scale_renamed_converts_to_the_same_rules() -> None:
    # scale_of ignores the name: no standing depends on it.
    assert scale_primitive_of(four_point(name="Renamed")) == scale_primitive_of(four_point())


def test_equal_standings_are_one_object_and_equal_to_a_fresh_one() -> None:
    data = {
        "value": Decimal("3.50"),
        "level": Decimal(3),
        "level_label": "Meets",
        "status": "mastered",
        "evidence_count": 4,
    }
    assert shared_standing(dict(data)) is shared_standing(dict(data))
    assert shared_standing(data) == standing_from_primitive(data)


def test_standings_written_differently_stay_apart() -> None:
    base = {"level": None, "level_label": None, "status": "approaching", "evidence_count": 2}
    two_places = shared_standing(base | {"value": Decimal("2.50")})
    one_place = shared_standing(base | {"value": Decimal("2.5")})
    assert str(two_places.value) == "2.50"
    assert str(one_place.value) == "2.5"
