"""Scores on proficiency scales (catalog's ``ProficiencyScaleV1``). Pure, no I/O.

A ``levels`` scale accepts only its level values; a ``numeric`` scale accepts any number from
``minimum`` to ``maximum``, a multiple of ``step`` when one is set.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from arc_contracts import ProficiencyScaleV1

#: Scores converted from a fraction (xAPI ``scaled``) keep at most this precision.
FRACTION_PRECISION = Decimal("0.0001")


def canonical(value: Decimal) -> Decimal:
    """The shortest exact form: 3.50 → 3.5, 3.0 → 3, 1E+2 → 100, -0 → 0."""
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        normal = normal.quantize(Decimal(1))
    return normal.copy_abs() if normal == 0 else normal


def on_scale(scale: ProficiencyScaleV1, score: Decimal) -> Decimal | None:
    """The scale's own value for ``score`` (so "3.0" is stored as 3), or None if off the scale."""
    if not score.is_finite():
        return None
    if scale.kind == "levels":
        for level in scale.levels:
            if level.value == score:
                return level.value
        return None
    if not scale.low <= score <= scale.high:
        return None
    if scale.step and score % scale.step != 0:
        return None
    return canonical(score)


def describe(scale: ProficiencyScaleV1) -> str:
    """What the scale accepts, for error messages: "(1, 2, 3, 4)" or "0 to 100 in steps of 5"."""
    if scale.kind == "levels":
        return "(" + ", ".join(str(level.value) for level in scale.levels) + ")"
    text = f"{canonical(scale.low)} to {canonical(scale.high)}"
    if scale.step:
        text += f" in steps of {canonical(scale.step)}"
    return text


def from_fraction(scale: ProficiencyScaleV1, fraction: Decimal) -> Decimal | None:
    """A fraction of the way from the scale's low to its high end (0 → low, 1 → high), on a
    numeric scale only, rounded half up to its step. Level scales have no such reading (a
    percentage is not a proficiency level): None."""
    if scale.kind != "numeric" or not fraction.is_finite() or not 0 <= fraction <= 1:
        return None
    value = scale.low + fraction * (scale.high - scale.low)
    if scale.step:
        value = (value / scale.step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * scale.step
    else:
        value = value.quantize(FRACTION_PRECISION, rounding=ROUND_HALF_UP)
    return on_scale(scale, min(max(value, scale.low), scale.high))
