"""Mastery aggregates: each student's standing on each outcome, and mastery's copy of what it
needs from the catalog. The rules live in ``standing``, ``policies`` and ``methods``."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from arc_mastery.packed import PackedEvidence
from arc_mastery.policies import PolicyRecord
from arc_mastery.standing import NO_EVIDENCE, Evidence, Explanation, Level, Scale, Standing

MASTERY_NAMESPACE = uuid5(NAMESPACE_URL, "https://masteryarc.org/mastery")


#: Scales many pairs hold alike: one object each, so that memory grows with the evidence, not
#: with copies of the same scale.
_SCALES: dict[str, dict[str, Any]] = {}
_SCALES_LIMIT = 1000


#: The kept scales by identity, so that a scale already kept is recognised without writing it
#: out as JSON (each is kept alive here, so an id cannot be reused by another object).
_KEPT_SCALES: dict[int, dict[str, Any]] = {}
_KEPT_SCALES_LIMIT = 1000


def shared_scale(scale: dict[str, Any]) -> dict[str, Any]:
    """One copy of each scale (never changed in place: a new revision is a new dict)."""
    if _KEPT_SCALES.get(id(scale)) is scale:
        return scale
    key = json.dumps(scale, sort_keys=True, default=str)
    found = _SCALES.get(key)
    if found is None:
        if len(_SCALES) >= _SCALES_LIMIT:
            _SCALES.clear()
        found = _SCALES[key] = scale
    if len(_KEPT_SCALES) >= _KEPT_SCALES_LIMIT:
        _KEPT_SCALES.clear()
    _KEPT_SCALES[id(found)] = found
    return found


#: Standings many pairs share (a standing is a value, a level, a status and a count).
_STANDINGS: dict[tuple[object, ...], Standing] = {}
_STANDINGS_LIMIT = 10_000


def shared_standing(data: dict[str, Any]) -> Standing:
    """``standing_from_primitive(data)``, one object per distinct standing (written the same
    way: 3.5 and 3.50 stay apart)."""
    key = (
        str(data.get("value")),
        str(data.get("level")),
        data.get("level_label"),
        data["status"],
        data["evidence_count"],
    )
    found = _STANDINGS.get(key)
    if found is None:
        if len(_STANDINGS) >= _STANDINGS_LIMIT:
            _STANDINGS.clear()
        found = _STANDINGS[key] = standing_from_primitive(data)
    return found


def mastery_id(student_id: str, outcome_id: str) -> UUID:
    return uuid5(MASTERY_NAMESPACE, f"{student_id}\x1f{outcome_id}")


def index_id(kind: str, key: str, partition: int) -> UUID:
    """Indexes are kept per partition: a partition is self-contained and can move between
    replicas."""
    return uuid5(MASTERY_NAMESPACE, f"index\x1f{kind}\x1f{key}\x1f{partition}")


def replica_id(partition: int) -> UUID:
    return uuid5(MASTERY_NAMESPACE, f"catalog-replica\x1f{partition}")


def standing_to_primitive(standing: Standing) -> dict[str, Any]:
    return {
        "value": standing.value,
        "level": standing.level.value if standing.level else None,
        "level_label": standing.level.label if standing.level else None,
        "status": standing.status,
        "evidence_count": standing.evidence_count,
    }


def standing_from_primitive(data: dict[str, Any]) -> Standing:
    level = data.get("level")
    return Standing(
        value=None if data.get("value") is None else Decimal(data["value"]),
        level=None if level is None else Level(Decimal(level), data.get("level_label") or ""),
        status=data["status"],
        evidence_count=int(data["evidence_count"]),
    )


def scale_to_primitive(scale: Scale) -> dict[str, Any]:
    return {
        "levels": [{"value": lv.value, "label": lv.label} for lv in scale.levels],
        "minimum": scale.minimum,
        "maximum": scale.maximum,
        "mastery_threshold": scale.mastery_threshold,
        "step": scale.step,
        "scale_id": scale.scale_id,
        "revision": scale.revision,
    }


def scale_from_primitive(data: dict[str, Any]) -> Scale:
    return Scale(
        levels=tuple(Level(Decimal(lv["value"]), lv["label"]) for lv in data["levels"]),
        minimum=Decimal(data["minimum"]),
        maximum=Decimal(data["maximum"]),
        mastery_threshold=Decimal(data["mastery_threshold"]),
        step=None if data.get("step") is None else Decimal(data["step"]),
        scale_id=data.get("scale_id", "default"),
        revision=int(data.get("revision", 1)),
    )


class StudentOutcomeMastery(Aggregate):
    """One student's evidence on one outcome, and the standing it gives."""

    class Started(Aggregate.Created):
        student_id: str
        outcome_id: str

    class EvidenceNoted(Aggregate.Event):
        attempt_id: str
        status: str
        score: Decimal | None
        assessed_at: datetime
        recorded_at: datetime
        weight: Decimal
        tags: list[str]
        kind: str
        supersedes: str | None
        scale: dict[str, Any]
        cause_event_id: str

        def apply(self, aggregate: StudentOutcomeMastery) -> None:
            aggregate._keep(
                Evidence(
                    self.attempt_id,
                    self.status,
                    self.score,
                    self.assessed_at,
                    self.recorded_at,
                    self.weight,
                    frozenset(self.tags),
                    self.kind,
                    self.supersedes,
                )
            )
            aggregate.last_scale = shared_scale(self.scale)

    class EvidenceVoided(Aggregate.Event):
        attempt_id: str
        reason: str
        voided_at: datetime
        cause_event_id: str

    class StandingChanged(Aggregate.Event):
        student_id: str
        outcome_id: str
        before: dict[str, Any]
        after: dict[str, Any]
        method: str
        params: dict[str, str]
        policy_id: str | None
        policy_revision: int | None
        cause_kind: str
        cause_event_id: str
        attempt_id: str | None
        assessed_at: datetime | None
        recorded_at: datetime | None
        traceparent: str

        def apply(self, aggregate: StudentOutcomeMastery) -> None:
            aggregate.standing = shared_standing(self.after)

    @staticmethod
    def create_id(student_id: str, outcome_id: str) -> UUID:
        return mastery_id(student_id, outcome_id)

    @event(Started)
    def __init__(self, student_id: str, outcome_id: str) -> None:
        # Interned: every pair of a student (or an outcome) holds the same string.
        self.student_id = sys.intern(student_id)
        self.outcome_id = sys.intern(outcome_id)
        #: In the order it arrived, packed: memory grows with the pairs a replica holds, and
        #: each holds its attempts (see ``packed``).
        self.packed_evidence = PackedEvidence()
        self.standing: Standing = NO_EVIDENCE
        self.last_scale: dict[str, Any] | None = None

    def note(
        self,
        attempt_id: str,
        status: str,
        score: Decimal | None,
        assessed_at: datetime,
        recorded_at: datetime,
        weight: Decimal,
        tags: list[str],
        kind: str,
        supersedes: str | None,
        scale: dict[str, Any],
        cause_event_id: str,
    ) -> None:
        # The hot path of a replay: the event is triggered directly (it applies itself), not
        # through an ``@event`` method, whose argument matching cost more than the mutation.
        self.trigger_event(
            self.EvidenceNoted,
            attempt_id=attempt_id,
            status=status,
            score=score,
            assessed_at=assessed_at,
            recorded_at=recorded_at,
            weight=weight,
            tags=tags,
            kind=kind,
            supersedes=supersedes,
            scale=scale,
            cause_event_id=cause_event_id,
        )

    @property
    def evidence(self) -> tuple[Evidence, ...]:
        """Every attempt's evidence, in the order it arrived."""
        return self.packed_evidence.items()

    def knows(self, attempt_id: str) -> bool:
        return self.packed_evidence.position(attempt_id) is not None

    def item(self, attempt_id: str) -> Evidence:
        """The evidence of one attempt (KeyError when unknown)."""
        position = self.packed_evidence.position(attempt_id)
        if position is None:
            raise KeyError(attempt_id)
        return self.packed_evidence.item(position)

    def attempt_ids(self) -> tuple[str, ...]:
        return tuple(item.attempt_id for item in self.evidence)

    def _keep(self, item: Evidence) -> None:
        """Add ``item``, or put it in the place of the attempt's earlier version."""
        evidence = self.packed_evidence
        self.packed_evidence = evidence.with_item(item, evidence.position(item.attempt_id))

    @event(EvidenceVoided)
    def void(self, attempt_id: str, reason: str, voided_at: datetime, cause_event_id: str) -> None:
        item = self.item(attempt_id)
        self._keep(
            Evidence(
                item.attempt_id,
                item.status,
                item.score,
                item.assessed_at,
                item.recorded_at,
                item.weight,
                item.tags,
                item.kind,
                item.supersedes,
                voided_at,
                reason,
            )
        )

    def settle(
        self,
        explanation: Explanation,
        *,
        cause_kind: str,
        cause_event_id: str,
        attempt: Evidence | None,
        traceparent: str,
    ) -> bool:
        """Record the new standing if it differs from the current one. True if it changed."""
        if explanation.standing.same_as(self.standing):
            return False
        self.trigger_event(
            self.StandingChanged,
            student_id=self.student_id,
            outcome_id=self.outcome_id,
            before=standing_to_primitive(self.standing),
            after=standing_to_primitive(explanation.standing),
            method=explanation.method,
            params=explanation.params,
            policy_id=explanation.policy_id,
            policy_revision=explanation.policy_revision,
            cause_kind=cause_kind,
            cause_event_id=cause_event_id,
            attempt_id=attempt.attempt_id if attempt else None,
            assessed_at=attempt.assessed_at if attempt else None,
            recorded_at=attempt.recorded_at if attempt else None,
            traceparent=traceparent,
        )
        return True


class MembershipIndex(Aggregate):
    """Who has mastery records on an outcome, or which outcomes a student has: what a policy or
    scale change must recompute, and what a replay walks through."""

    class Opened(Aggregate.Created):
        kind: str
        key: str
        partition: int

    class Added(Aggregate.Event):
        member: str

    @staticmethod
    def create_id(kind: str, key: str, partition: int) -> UUID:
        return index_id(kind, key, partition)

    @event(Opened)
    def __init__(self, kind: str, key: str, partition: int) -> None:
        self.kind = kind
        self.key = key
        self.members: list[str] = []

    @event(Added)
    def add(self, member: str) -> None:
        self.members.append(sys.intern(member))


class CatalogReplica(Aggregate):
    """Mastery's copy of the catalog (one per partition): outcome scales and parents, courses,
    and every policy revision with the moment mastery learned it (for "as known at")."""

    class Opened(Aggregate.Created):
        partition: int

    class OutcomeLearned(Aggregate.Event):
        outcome_id: str
        revision: int
        scale: dict[str, Any]
        parent_id: str | None

    class CourseLearned(Aggregate.Event):
        course_id: str
        revision: int
        outcomes: list[str]
        power: list[str]

    class PolicyLearned(Aggregate.Event):
        policy_id: str
        revision: int
        scope: str
        scope_id: str | None
        method: str
        params: dict[str, str]
        excluded_evidence_tags: list[str]
        rollup_params: dict[str, str]
        known_at: datetime

    @staticmethod
    def create_id(partition: int) -> UUID:
        return replica_id(partition)

    @event(Opened)
    def __init__(self, partition: int) -> None:
        self.outcome_revisions: dict[str, int] = {}
        self.scales: dict[str, Scale] = {}
        self.parents: dict[str, str | None] = {}
        self.course_revisions: dict[str, int] = {}
        self.course_outcomes: dict[str, list[str]] = {}
        self.course_power: dict[str, list[str]] = {}
        self.policies: list[PolicyRecord] = []
        self.rollup_params: dict[tuple[str, str | None], dict[str, str]] = {}

    @event(OutcomeLearned)
    def learn_outcome(
        self, outcome_id: str, revision: int, scale: dict[str, Any], parent_id: str | None
    ) -> None:
        self.outcome_revisions[outcome_id] = revision
        self.scales[outcome_id] = scale_from_primitive(scale)
        self.parents[outcome_id] = parent_id

    @event(CourseLearned)
    def learn_course(
        self, course_id: str, revision: int, outcomes: list[str], power: list[str]
    ) -> None:
        self.course_revisions[course_id] = revision
        self.course_outcomes[course_id] = outcomes
        self.course_power[course_id] = power

    @event(PolicyLearned)
    def learn_policy(
        self,
        policy_id: str,
        revision: int,
        scope: str,
        scope_id: str | None,
        method: str,
        params: dict[str, str],
        excluded_evidence_tags: list[str],
        rollup_params: dict[str, str],
        known_at: datetime,
    ) -> None:
        self.policies.append(
            PolicyRecord(
                policy_id,
                revision,
                scope,
                scope_id,
                method,
                tuple(sorted(params.items())),
                frozenset(excluded_evidence_tags),
                known_at,
            )
        )
        self.rollup_params[(scope, scope_id)] = rollup_params

    def knows_policy(self, policy_id: str, revision: int) -> bool:
        return any(p.policy_id == policy_id and p.revision >= revision for p in self.policies)

    def courses_assessing(self, outcome_id: str) -> list[str]:
        return sorted(c for c, outcomes in self.course_outcomes.items() if outcome_id in outcomes)

    def children_of(self, outcome_id: str) -> list[str]:
        return sorted(o for o, parent in self.parents.items() if parent == outcome_id)
