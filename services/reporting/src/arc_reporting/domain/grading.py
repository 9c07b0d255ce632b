"""Report-card grades: a course value from the outcomes the policy counts toward the academic
grade, converted by the policy's grade bands. Pure Python, no I/O.

- Counted outcomes: the course's outcomes with a tag in the policy's
  ``academic_outcome_tags`` (all of them when that list is empty). The others (e.g.
  habits of work) are reported beside the grade, not in it.
- Course value: the policy's ``course_rollup`` rule (the same rules mastery uses): ``mean`` of
  the counted outcomes' values (2 decimals, half away from zero; outcomes without evidence
  are left out, never a zero), or ``all_power_mastered``, whose value is also that mean and
  whose credit needs every counted power outcome mastered.
- Grade: the band with the highest ``minimum`` at or below the value (its letter and percent);
  with no bands, the scale's level label for the value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from arc_contracts import GradeBandV1, OutcomeDefinedV1, PolicyDefinedV1
from arc_reporting.domain.records import NO_EVIDENCE, Standing


@dataclass(frozen=True)
class OutcomeGradeLine:
    outcome_id: str
    code: str
    statement: str
    power: bool
    counted: bool
    why_not_counted: str | None
    standing: Standing


@dataclass(frozen=True)
class Grade:
    value: Decimal | None
    grade: str | None  # "B", or a level label when the policy has no bands
    percent: Decimal | None
    rule: str
    credit: bool  # mastered the course by its rule
    explanation: str


def mean(values: Sequence[Decimal]) -> Decimal | None:
    if not values:
        return None
    return (sum(values, Decimal(0)) / len(values)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def band_for(value: Decimal, bands: Sequence[GradeBandV1]) -> GradeBandV1 | None:
    """The band with the highest minimum at or below ``value``."""
    reached = [band for band in bands if band.minimum <= value]
    return max(reached, key=lambda band: band.minimum) if reached else None


def counts_toward_grade(outcome: OutcomeDefinedV1, policy: PolicyDefinedV1 | None) -> str | None:
    """None when the outcome counts; otherwise why not."""
    academic = set(policy.academic_outcome_tags) if policy else set()
    if not academic or academic & set(outcome.tags):
        return None
    tags = ", ".join(outcome.tags) or "no tags"
    return f"not part of the grade ({tags}); the grade counts {', '.join(sorted(academic))}"


def grade_lines(
    outcomes: Sequence[tuple[OutcomeDefinedV1, bool]],
    standings: dict[str, Standing],
    policy: PolicyDefinedV1 | None,
) -> list[OutcomeGradeLine]:
    lines = []
    for outcome, power in outcomes:
        why = counts_toward_grade(outcome, policy)
        lines.append(
            OutcomeGradeLine(
                outcome.outcome_id,
                outcome.code,
                outcome.statement,
                power,
                why is None,
                why,
                standings.get(outcome.outcome_id, NO_EVIDENCE),
            )
        )
    return lines


def course_grade(
    lines: Sequence[OutcomeGradeLine],
    policy: PolicyDefinedV1 | None,
    level_label: dict[Decimal, str] | None = None,
    mastery_threshold: Decimal = Decimal(3),
) -> Grade:
    rule = (policy.params.get("course_rollup") if policy else None) or "mean"
    counted = [line for line in lines if line.counted]
    values = [line.standing.value for line in counted if line.standing.value is not None]
    value = mean(values)
    power = [line for line in counted if line.power]
    if rule == "all_power_mastered":
        done = [line for line in power if line.standing.mastered]
        credit = bool(power) and len(done) == len(power)
        explanation = f"{len(done)} of {len(power)} power outcomes mastered"
    else:
        credit = value is not None and value >= mastery_threshold
        explanation = (
            f"mean of {len(values)} of {len(counted)} counted outcome values = {value}"
            if value is not None
            else "no evidence yet on the counted outcomes"
        )
    if value is None:
        return Grade(None, None, None, rule, credit, explanation)
    band = band_for(value, policy.report_card) if policy and policy.report_card else None
    if band is not None:
        return Grade(value, band.grade, band.percent, rule, credit, explanation)
    label = _label_at(value, level_label or {})
    return Grade(value, label, None, rule, credit, explanation)


def _label_at(value: Decimal, labels: dict[Decimal, str]) -> str | None:
    found = None
    for level in sorted(labels):
        if level <= value:
            found = labels[level]
    return found
