"""Course and parent-outcome roll-ups over students' outcome standings. Pure Python, no I/O.

Rules (named in a policy's params ``course_rollup`` / ``parent_rollup``):
- ``mean``: the mean of the outcome values that have one (2 decimals, half away from zero).
- ``all_power_mastered`` (courses): credit when every power outcome is mastered.
- ``all_children_mastered`` (parents): mastered when every child outcome is mastered.
- ``points:N`` (parents): mastered when at least N children are mastered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from arc_mastery.standing import Standing


@dataclass(frozen=True)
class RollUp:
    rule: str
    value: Decimal | None
    mastered: bool
    counted: int
    of: int
    explanation: str


def _mean(values: Sequence[Decimal]) -> Decimal | None:
    if not values:
        return None
    return (sum(values, Decimal(0)) / len(values)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def course_rollup(
    rule: str, standings: Mapping[str, Standing], power: Sequence[str], mastery_threshold: Decimal
) -> RollUp:
    values = [s.value for s in standings.values() if s.value is not None]
    if rule == "all_power_mastered":
        mastered = [o for o in power if standings.get(o) and standings[o].status == "mastered"]
        done = bool(power) and len(mastered) == len(power)
        return RollUp(
            rule,
            _mean(values),
            done,
            len(mastered),
            len(power),
            f"{len(mastered)} of {len(power)} power outcomes mastered",
        )
    if rule != "mean":
        raise ValueError(f"unknown course roll-up rule {rule!r}")
    mean = _mean(values)
    return RollUp(
        rule,
        mean,
        mean is not None and mean >= mastery_threshold,
        len(values),
        len(standings),
        f"mean of {len(values)} outcome values = {mean}" if mean is not None else "no values yet",
    )


def parent_rollup(
    rule: str, children: Mapping[str, Standing], mastery_threshold: Decimal
) -> RollUp:
    mastered = sum(1 for s in children.values() if s.status == "mastered")
    values = [s.value for s in children.values() if s.value is not None]
    total = len(children)
    if rule == "all_children_mastered":
        done = total > 0 and mastered == total
        return RollUp(
            rule,
            _mean(values),
            done,
            mastered,
            total,
            f"{mastered} of {total} child outcomes mastered",
        )
    if rule.startswith("points:"):
        needed = int(rule.split(":", 1)[1])
        return RollUp(
            rule,
            Decimal(mastered),
            mastered >= needed,
            mastered,
            total,
            f"{mastered} points (mastered children); {needed} needed",
        )
    if rule == "mean":
        mean = _mean(values)
        done = mean is not None and mean >= mastery_threshold
        return RollUp(rule, mean, done, len(values), total, f"mean of child values = {mean}")
    raise ValueError(f"unknown parent roll-up rule {rule!r}")
