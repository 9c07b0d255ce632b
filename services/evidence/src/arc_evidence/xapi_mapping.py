"""xAPI statements read as attempts. Pure.

**Mapping** a statement to attempts:

- the student is ``actor.account.name`` (an Agent identified by an account);
- the outcomes are, first, those listed in ``context.extensions`` under
  :data:`OUTCOME_EXTENSION` (an outcome id or a list of them); otherwise every outcome whose
  ``case_uri`` equals the activity id (``object.id``) or the id of a ``category`` context
  activity (CASE-aligned content);
- the score is ``result.score.raw`` when it lies on the outcome's scale (and ``min``/``max``
  are absent or equal the scale's ends); otherwise, on a numeric scale, ``scaled`` (or ``raw``
  within ``min``..``max``) read as a fraction of the scale, rounded half up to its step. A
  fraction is never turned into a proficiency level;
- assessed at ``timestamp``; ``assessment_ref`` = the activity id; the kind from
  :data:`KIND_EXTENSION` (default ``test``); recorded by ``context.instructor`` if given.

A statement that cannot be mapped is stored anyway, with the reasons, and listed as unmapped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from arc_contracts import ProficiencyScaleV1
from arc_evidence.rules import (
    ASSESSMENT_KINDS,
    AttemptDraft,
    CatalogLookup,
    KnownOutcome,
    Problem,
    ScoreEntry,
)
from arc_evidence.scales import describe, from_fraction, on_scale
from arc_evidence.xapi import KIND_EXTENSION, OUTCOME_EXTENSION, number, parse_timestamp


@dataclass(frozen=True)
class Mapped:
    """A statement read as an attempt draft, or the reasons it cannot be (xAPI paths)."""

    draft: AttemptDraft | None
    problems: list[Problem]
    explicit_outcomes: bool = False


def agent_name(agent: Any) -> str | None:
    """How evidence names an agent: its account name, else its mbox or openid."""
    if not isinstance(agent, dict):
        return None
    account = agent.get("account")
    if isinstance(account, dict) and isinstance(account.get("name"), str):
        return str(account["name"])
    for key in ("mbox", "openid"):
        if isinstance(agent.get(key), str):
            return str(agent[key])
    return None


def map_statement(body: Mapping[str, Any], catalog: CatalogLookup) -> Mapped:
    statement_id = str(body["id"])
    target = body["object"]
    context = body.get("context") or {}
    extensions = context.get("extensions") or {}
    problems: list[Problem] = []
    if target.get("objectType", "Activity") != "Activity":
        problems.append(Problem("object", "only an activity can be aligned to an outcome"))
        return Mapped(None, problems)
    account = body["actor"].get("account")
    student_id = account.get("name") if isinstance(account, dict) else None
    if body["actor"].get("objectType", "Agent") != "Agent" or not student_id:
        problems.append(Problem("actor", "identify the student by account (homePage, name)"))
    outcomes, explicit = _aligned_outcomes(target["id"], context, extensions, catalog, problems)
    entries = []
    for outcome in outcomes:
        score, problem = score_on(outcome, (body.get("result") or {}).get("score"))
        if problem:
            problems.append(Problem("result.score", problem))
        entries.append(ScoreEntry(outcome.outcome_id, score))
    kind = extensions.get(KIND_EXTENSION, "test")
    if kind not in ASSESSMENT_KINDS:
        path = f"context.extensions[{KIND_EXTENSION}]"
        problems.append(Problem(path, f"unknown kind {kind!r} ({', '.join(ASSESSMENT_KINDS)})"))
    if problems or not student_id:
        return Mapped(None, problems, explicit)
    draft = AttemptDraft(
        student_id=student_id,
        entries=tuple(entries),
        assessed_at=parse_timestamp(body["timestamp"]),
        recorded_by=agent_name(context.get("instructor")) or "xapi",
        assessment_ref=str(target["id"]),
        assessment_kind=str(kind),
        source="xapi",
        source_ref=statement_id,
    )
    return Mapped(draft, [], explicit)


def _aligned_outcomes(
    activity_id: str,
    context: Mapping[str, Any],
    extensions: Mapping[str, Any],
    catalog: CatalogLookup,
    problems: list[Problem],
) -> tuple[list[KnownOutcome], bool]:
    if OUTCOME_EXTENSION in extensions:
        listed = extensions[OUTCOME_EXTENSION]
        ids = listed if isinstance(listed, list) else [listed]
        found = []
        for outcome_id in ids:
            outcome = catalog.outcome(str(outcome_id))
            if outcome is None:
                path = f"context.extensions[{OUTCOME_EXTENSION}]"
                problems.append(Problem(path, f"unknown outcome {outcome_id!r}"))
            else:
                found.append(outcome)
        return found, True
    uris = [activity_id]
    category = (context.get("contextActivities") or {}).get("category", [])
    for item in category if isinstance(category, list) else [category]:
        uris.append(item["id"])
    found = []
    for uri in uris:
        found.extend(o for o in catalog.outcomes_aligned_to(uri) if o not in found)
    if not found:
        problems.append(
            Problem(
                "object.id",
                f"activity {activity_id!r} is not aligned to any outcome (no outcome has it as "
                f"case_uri, and context.extensions has no {OUTCOME_EXTENSION!r})",
            )
        )
    return found, False


def score_on(outcome: KnownOutcome, score: Any) -> tuple[Decimal | None, str | None]:
    """The score on the outcome's scale, or why there is none."""
    if not isinstance(score, dict) or not ({"raw", "scaled"} & set(score)):
        return None, "no score: a statement without result.score is not evidence"
    scale, name = outcome.scale, repr(outcome.outcome_id)
    raw, scaled = number(score.get("raw")), number(score.get("scaled"))
    low, high = number(score.get("min")), number(score.get("max"))
    fraction: Decimal | None = None
    if raw is not None and _same_range(scale, low, high):
        found = on_scale(scale, raw)
        if found is None:
            return None, f"raw {raw} is not on the scale of {name} {describe(scale)}"
        return found, None
    if raw is not None and low is not None and high is not None and high > low:
        fraction = (raw - low) / (high - low)
    elif scaled is not None:
        fraction = scaled
    if fraction is None:
        return None, f"raw {raw} needs min and max to be read on the scale of {name}"
    found = from_fraction(scale, fraction)
    if found is None:
        return None, (
            f"a fraction ({fraction:.4}) cannot be read on the scale of {name} "
            f"{describe(scale)}: send result.score.raw on the scale"
        )
    return found, None


def _same_range(scale: ProficiencyScaleV1, low: Decimal | None, high: Decimal | None) -> bool:
    if low is None and high is None:
        return True
    return low == scale.low and high == scale.high


#: Fields of an attempt draft, and where they came from in a statement.
DRAFT_FIELD_PATHS = {
    "student_id": "actor",
    "outcome_id": "object.id",
    "score": "result.score",
    "status": "result.score",
    "assessed_at": "timestamp",
    "recorded_by": "context.instructor",
    "assessment_ref": "object.id",
    "assessment_kind": f"context.extensions[{KIND_EXTENSION}]",
}


def statement_path(problem: Problem, explicit_outcomes: bool) -> str:
    if problem.field == "outcome_id" and explicit_outcomes:
        return f"context.extensions[{OUTCOME_EXTENSION}]"
    return DRAFT_FIELD_PATHS.get(problem.field, problem.field)
