"""Colours that stay distinguishable with the common colour-vision deficiencies, and text
colours that keep WCAG AA contrast on them. Colour is never the only signal: every coloured
cell or bar also carries its label."""

from __future__ import annotations

import functools
from decimal import Decimal

from arc_contracts import ProficiencyScaleV1

#: ColorBrewer YlGnBu (9 classes), marked colour-blind safe by ColorBrewer: light = low level,
#: dark = high level.
LEVEL_RAMP = (
    "#ffffd9",
    "#edf8b1",
    "#c7e9b4",
    "#7fcdbb",
    "#41b6c4",
    "#1d91c0",
    "#225ea8",
    "#253494",
    "#081d58",
)
NO_EVIDENCE_COLOUR = "#f2f2f2"

#: Okabe–Ito colours per status (the palette designed for colour-blind readers).
STATUS_COLOURS = {
    "no_evidence": "#bbbbbb",
    "not_yet": "#d55e00",
    "needs_judgment": "#cc79a7",
    "approaching": "#f0e442",
    "mastered": "#0072b2",
}
#: For line charts of several series (Okabe–Ito order).
SERIES_COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@functools.lru_cache(maxsize=256)  # a heat map asks for the same few colours thousands of times
def text_on(background: str) -> str:
    """Black or white, whichever contrasts more with ``background``."""
    lum = _luminance(background)
    return "#000000" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "#ffffff"


def level_position(
    scale: ProficiencyScaleV1, level: Decimal | None, value: Decimal | None
) -> float | None:
    """Where a standing sits on its scale, 0 (lowest) to 1 (highest)."""
    values = [lv.value for lv in scale.levels]
    if level is not None and level in values and len(values) > 1:
        return values.index(level) / (len(values) - 1)
    if value is None or scale.high == scale.low:
        return None
    return float(max(Decimal(0), min(Decimal(1), (value - scale.low) / (scale.high - scale.low))))


def level_colour(scale: ProficiencyScaleV1, level: Decimal | None, value: Decimal | None) -> str:
    """The scale's own colour for the level when it names one, else a step of the ramp."""
    for candidate in scale.levels:
        if level is not None and candidate.value == level and candidate.colour:
            return candidate.colour
    position = level_position(scale, level, value)
    if position is None:
        return NO_EVIDENCE_COLOUR
    # Skip the two palest steps so the lowest level is still visibly coloured.
    usable = LEVEL_RAMP[2:]
    return usable[round(position * (len(usable) - 1))]
