"""Proficiency scales: what a score can be, how it reads, and when it counts as mastered.

Two kinds. A ``levels`` scale accepts only its level values (1 "Not yet" … 4 "Exceeds"). A
``numeric`` scale accepts any number from ``minimum`` to ``maximum`` (on the ``step`` grid when
set, e.g. 1.0–4.0 by 0.5, or 0–100); its levels, if any, label the ranges that start at them.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from arc_catalog.domain.errors import Violation, duplicates, text_problems

ScaleKind = Literal["levels", "numeric"]
_HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


@dataclass(frozen=True)
class ScaleLevel:
    value: Decimal
    label: str
    colour: str | None = None


@dataclass(frozen=True)
class ProficiencyScale:
    name: str
    levels: tuple[ScaleLevel, ...]
    mastery_threshold: Decimal
    kind: ScaleKind = "levels"
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    step: Decimal | None = None

    @property
    def low(self) -> Decimal:
        return (
            self.minimum
            if self.kind == "numeric" and self.minimum is not None
            else (self.levels[0].value)
        )

    @property
    def high(self) -> Decimal:
        return (
            self.maximum
            if self.kind == "numeric" and self.maximum is not None
            else (self.levels[-1].value)
        )

    def accepts(self, score: Decimal) -> bool:
        """Whether a teacher can give ``score`` on this scale."""
        if self.kind == "levels":
            return any(level.value == score for level in self.levels)
        if not self.low <= score <= self.high:
            return False
        return self.step is None or (score - self.low) % self.step == 0

    def level_for(self, value: Decimal) -> ScaleLevel | None:
        """The highest level whose value is at or below ``value`` (None below the first)."""
        found = None
        for level in self.levels:
            if level.value <= value:
                found = level
        return found

    def is_mastered(self, value: Decimal) -> bool:
        return value >= self.mastery_threshold


def scale_problems(scale: ProficiencyScale, at: str = "scale") -> list[Violation]:
    """Every rule the scale breaks, each naming its field under ``at``."""
    problems = text_problems(f"{at}.name", scale.name, limit=200)
    problems += _level_problems(scale, at)
    if scale.kind == "levels":
        problems += _levels_kind_problems(scale, at)
    elif scale.kind == "numeric":
        problems += _numeric_kind_problems(scale, at)
    else:
        problems.append(Violation(f"{at}.kind", f"{scale.kind!r} is not 'levels' or 'numeric'"))
    return problems


def _level_problems(scale: ProficiencyScale, at: str) -> list[Violation]:
    problems: list[Violation] = []
    values = [level.value for level in scale.levels]
    if any(low >= high for low, high in itertools.pairwise(values)):
        problems.append(Violation(f"{at}.levels", "level values must strictly increase"))
    for index, level in enumerate(scale.levels):
        if not level.label.strip():
            problems.append(Violation(f"{at}.levels[{index}].label", "a level needs a label"))
        if not level.value.is_finite():
            problems.append(Violation(f"{at}.levels[{index}].value", "must be a number"))
        if level.colour is not None and not _HEX_COLOUR.match(level.colour):
            problems.append(
                Violation(
                    f"{at}.levels[{index}].colour",
                    f"{level.colour!r} is not a colour like #1b9e77 or #fa0",
                )
            )
    for label in duplicates(level.label.strip().lower() for level in scale.levels):
        problems.append(Violation(f"{at}.levels", f"the label {label!r} is used twice"))
    return problems


def _levels_kind_problems(scale: ProficiencyScale, at: str) -> list[Violation]:
    problems: list[Violation] = []
    for name in ("minimum", "maximum", "step"):
        if getattr(scale, name) is not None:
            problems.append(
                Violation(f"{at}.{name}", f"only a numeric scale has a {name}; its levels are it")
            )
    if len(scale.levels) < 2:
        problems.append(Violation(f"{at}.levels", "a scale needs at least two levels"))
        return problems
    low, high = scale.levels[0].value, scale.levels[-1].value
    if not low <= scale.mastery_threshold <= high:
        problems.append(
            Violation(
                f"{at}.mastery_threshold",
                f"{scale.mastery_threshold} is outside the scale {low}–{high}",
            )
        )
    return problems


def _numeric_kind_problems(scale: ProficiencyScale, at: str) -> list[Violation]:
    low, high, step = scale.minimum, scale.maximum, scale.step
    if low is None or high is None:
        missing = "minimum" if low is None else "maximum"
        return [Violation(f"{at}.{missing}", "a numeric scale needs a minimum and a maximum")]
    if low >= high:
        return [Violation(f"{at}.maximum", f"{high} must be above the minimum {low}")]
    problems: list[Violation] = []
    if step is not None and (step <= 0 or (high - low) % step != 0):
        problems.append(
            Violation(f"{at}.step", f"{step} must be positive and divide {low}–{high} evenly")
        )
    if not low <= scale.mastery_threshold <= high:
        problems.append(
            Violation(
                f"{at}.mastery_threshold", f"{scale.mastery_threshold} is outside {low}–{high}"
            )
        )
    for index, level in enumerate(scale.levels):
        if not low <= level.value <= high:
            problems.append(
                Violation(f"{at}.levels[{index}].value", f"{level.value} is outside {low}–{high}")
            )
    return problems


#: The scale most mastery-based schools start from (colours from a colour-blind-safe palette).
FOUR_LEVELS = ProficiencyScale(
    name="Four levels",
    levels=(
        ScaleLevel(Decimal(1), "Not yet", "#d95f02"),
        ScaleLevel(Decimal(2), "Approaching", "#e6ab02"),
        ScaleLevel(Decimal(3), "Meets", "#1b9e77"),
        ScaleLevel(Decimal(4), "Exceeds", "#7570b3"),
    ),
    mastery_threshold=Decimal(3),
)
