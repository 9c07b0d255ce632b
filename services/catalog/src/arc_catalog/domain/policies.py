"""Calculation policies: how mastery is calculated, set for the network and overridable per
course and per outcome, plus the report-card conversion and which outcome tags count toward the
academic grade. Pure Python.

Method names and parameters are those of the mastery service (``arc_mastery.methods``); the
catalog only checks that a policy names a known method with well-formed parameters.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Literal

from arc_catalog.domain.errors import Violation, duplicates, id_problems, text_problems

PolicyScope = Literal["network", "course", "outcome"]
SCOPES: tuple[PolicyScope, ...] = ("network", "course", "outcome")


@dataclass(frozen=True)
class MethodParam:
    name: str
    kind: Literal["weight", "count"]  # weight: 0 < w < 1; count: a whole number >= 1
    required: bool


_W = MethodParam("w", "weight", required=False)
_K = MethodParam("k", "count", required=True)
#: Every calculation method with the parameters it takes.
METHODS: Mapping[str, tuple[MethodParam, ...]] = {
    "most_recent": (),
    "highest": (),
    "mean": (),
    "median": (),
    "mode": (),
    "weighted_average": (_W,),
    "decaying_average": (_W,),
    "n_mastery": (MethodParam("n", "count", required=True),),
    "power_law": (),
    "assessment_weighted": (),
    "windowed_mean": (_K,),
    "windowed_median": (_K,),
    "windowed_mode": (_K,),
    "windowed_highest": (_K,),
    "true_score_estimate": (),
}


@dataclass(frozen=True)
class GradeBand:
    """Report-card conversion: a value at or above ``minimum`` earns ``grade`` (and ``percent``)."""

    minimum: Decimal
    grade: str
    percent: Decimal | None = None


@dataclass(frozen=True)
class Policy:
    scope: PolicyScope
    scope_id: str | None
    method: str
    params: Mapping[str, str] = field(default_factory=dict)
    excluded_evidence_tags: tuple[str, ...] = ()
    academic_outcome_tags: tuple[str, ...] = ()
    report_card: tuple[GradeBand, ...] = ()
    retired: bool = False


def policy_id(scope: str, scope_id: str | None) -> str:
    """One policy per scope: ``network``, ``course:<id>``, ``outcome:<id>``."""
    return "network" if scope == "network" else f"{scope}:{scope_id}"


def policy_problems(policy: Policy) -> list[Violation]:
    problems: list[Violation] = []
    if policy.scope not in SCOPES:
        problems.append(Violation("scope", f"{policy.scope!r} is not one of {', '.join(SCOPES)}"))
    elif policy.scope == "network" and policy.scope_id:
        problems.append(Violation("scope_id", "the network policy has no scope id"))
    elif policy.scope != "network":
        problems += id_problems("scope_id", policy.scope_id or "")
    problems += method_problems(policy.method, policy.params)
    for name, tags in (
        ("excluded_evidence_tags", policy.excluded_evidence_tags),
        ("academic_outcome_tags", policy.academic_outcome_tags),
    ):
        for index, tag in enumerate(tags):
            problems += text_problems(f"{name}[{index}]", tag, limit=100)
    if policy.report_card and policy.scope == "outcome":
        problems.append(
            Violation("report_card", "report cards are per course or network, not per outcome")
        )
    if policy.academic_outcome_tags and policy.scope == "outcome":
        problems.append(
            Violation(
                "academic_outcome_tags", "which tags are academic is set per course or network"
            )
        )
    problems += report_card_problems(policy.report_card)
    return problems


def method_problems(method: str, params: Mapping[str, str]) -> list[Violation]:
    if method not in METHODS:
        return [Violation("method", f"unknown method {method!r}; known: {', '.join(METHODS)}")]
    accepted = {param.name: param for param in METHODS[method]}
    problems = [
        Violation(f"params.{name}", f"{method} takes no parameter {name!r}")
        for name in sorted(set(params) - set(accepted))
    ]
    for param in accepted.values():
        raw = params.get(param.name)
        if raw is None:
            if param.required:
                problems.append(Violation(f"params.{param.name}", f"{method} needs it"))
            continue
        if not _param_ok(param, raw):
            rule = "a number between 0 and 1" if param.kind == "weight" else "a whole number ≥ 1"
            problems.append(Violation(f"params.{param.name}", f"{raw!r} is not {rule}"))
    return problems


def _param_ok(param: MethodParam, raw: str) -> bool:
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        return False
    if not value.is_finite():
        return False
    if param.kind == "weight":
        return Decimal(0) < value < Decimal(1)
    return value == value.to_integral_value() and value >= 1


def report_card_problems(bands: tuple[GradeBand, ...]) -> list[Violation]:
    problems: list[Violation] = []
    for index, band in enumerate(bands):
        problems += text_problems(f"report_card[{index}].grade", band.grade, limit=20)
        if band.percent is not None and not Decimal(0) <= band.percent <= Decimal(100):
            problems.append(
                Violation(f"report_card[{index}].percent", f"{band.percent} is not 0–100")
            )
    minima = [band.minimum for band in bands]
    if any(high <= low for high, low in itertools.pairwise(minima)):
        problems.append(
            Violation("report_card", "list bands from the highest minimum down, each lower")
        )
    for grade in duplicates(band.grade for band in bands):
        problems.append(Violation("report_card", f"the grade {grade!r} is listed twice"))
    return problems


def report_grade(bands: tuple[GradeBand, ...], value: Decimal) -> GradeBand | None:
    """The band a course value earns: the first (highest) whose minimum it reaches."""
    return next((band for band in bands if value >= band.minimum), None)


def counts_toward_academic(outcome_tags: tuple[str, ...], academic_tags: tuple[str, ...]) -> bool:
    """An outcome counts toward the academic grade when the policy names no academic tags (all
    count) or when it carries one of them (e.g. habits-of-work outcomes are left out)."""
    return not academic_tags or any(tag in academic_tags for tag in outcome_tags)


#: Used when the network has set no policy: the method the walking skeleton has always used.
DEFAULT_NETWORK_POLICY = Policy(scope="network", scope_id=None, method="most_recent")


@dataclass(frozen=True)
class EffectivePolicy:
    """The policy that applies to one outcome in one course, and where each part came from."""

    method: str
    params: Mapping[str, str]
    excluded_evidence_tags: tuple[str, ...]
    academic_outcome_tags: tuple[str, ...]
    report_card: tuple[GradeBand, ...]
    method_from: str
    report_card_from: str | None
    academic_tags_from: str | None


def resolve_policy(
    network: Policy | None, course: Policy | None = None, outcome: Policy | None = None
) -> EffectivePolicy:
    """Outcome overrides course overrides network, for the calculation (method, parameters and
    excluded evidence tags, taken together). Report card and academic tags come from the
    course if it sets them, else from the network. Retired policies are ignored."""
    live = [p for p in (outcome, course, network) if p is not None and not p.retired]
    calculation = live[0] if live else DEFAULT_NETWORK_POLICY
    card = next((p for p in live if p.report_card), None)
    academic = next((p for p in live if p.academic_outcome_tags), None)
    return EffectivePolicy(
        method=calculation.method,
        params=dict(calculation.params),
        excluded_evidence_tags=calculation.excluded_evidence_tags,
        academic_outcome_tags=academic.academic_outcome_tags if academic else (),
        report_card=card.report_card if card else (),
        method_from=policy_id(calculation.scope, calculation.scope_id) if live else "default",
        report_card_from=policy_id(card.scope, card.scope_id) if card else None,
        academic_tags_from=policy_id(academic.scope, academic.scope_id) if academic else None,
    )
