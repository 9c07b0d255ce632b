"""Mastery projection: applies evidence and catalog events in stream order, and records each
batch's effects together with the stream position it reached (one transaction)."""

from __future__ import annotations

import contextlib
import copy
import logging
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    LRUCache,
    ProcessingEvent,
)
from eventsourcing.persistence import ProcessRecorder, Tracking
from eventsourcing.utils import get_topic

from arc_contracts import (
    AttemptRecordedV1,
    AttemptVoidedV1,
    ContractEvent,
    CourseDefinedV1,
    Envelope,
    OutcomeDefinedV1,
    PolicyDefinedV1,
    ProficiencyScaleV1,
)
from arc_contracts.base import partition_of
from arc_mastery import policies, rollups
from arc_mastery.cache import FrozenAggregateCache
from arc_mastery.domain import (
    CatalogReplica,
    MembershipIndex,
    StudentOutcomeMastery,
    index_id,
    mastery_id,
    scale_from_primitive,
    scale_to_primitive,
    shared_scale,
)
from arc_mastery.rollups import RollUp
from arc_mastery.standing import (
    NO_EVIDENCE,
    Evidence,
    Explanation,
    Level,
    Policy,
    Scale,
    Standing,
    assessed_by,
    explain,
    known_at,
)
from arc_platform.consumer import Delivery, apply_in_order
from arc_platform.telemetry import current_traceparent

log = logging.getLogger(__name__)
#: Policy params that configure roll-ups rather than the calculation method.
ROLLUP_PARAMS = frozenset({"course_rollup", "parent_rollup"})


@dataclass(frozen=True)
class MasteryState:
    """What an auditor compares between a live projection and a rebuild."""

    student_id: str
    outcome_id: str
    value: Decimal | None
    status: str
    attempt_ids: tuple[str, ...]
    changes: int


def scale_of(contract: ProficiencyScaleV1) -> Scale:
    return Scale(
        levels=tuple(Level(level.value, level.label) for level in contract.levels),
        minimum=contract.low,
        maximum=contract.high,
        mastery_threshold=contract.mastery_threshold,
        step=contract.step,
        scale_id=contract.scale_id,
        revision=contract.revision,
    )


#: Every attempt carries its scale; most carry one of a few. Converted once per distinct scale
#: (the scale's own values, written the same way, make the key: not its name, which no
#: standing depends on), instead of once per attempt.
_SCALE_PRIMITIVES: dict[tuple[object, ...], dict[str, Any]] = {}
_SCALE_PRIMITIVES_LIMIT = 1000


def scale_primitive_of(contract: ProficiencyScaleV1) -> dict[str, Any]:
    """``scale_to_primitive(scale_of(contract))``, one shared dict per distinct scale (never
    changed in place)."""
    key = (
        contract.scale_id,
        contract.revision,
        contract.kind,
        str(contract.minimum),
        str(contract.maximum),
        str(contract.step),
        str(contract.mastery_threshold),
        tuple((str(level.value), level.label) for level in contract.levels),
    )
    found = _SCALE_PRIMITIVES.get(key)
    if found is None:
        if len(_SCALE_PRIMITIVES) >= _SCALE_PRIMITIVES_LIMIT:
            _SCALE_PRIMITIVES.clear()
        found = _SCALE_PRIMITIVES[key] = shared_scale(scale_to_primitive(scale_of(contract)))
    return found


class Batch:
    """Aggregates touched while applying one batch of one partition: saved together with the
    new position."""

    def __init__(self, app: MasteryApplication, partition: int) -> None:
        self.app = app
        self.partition = partition
        self.touched: dict[UUID, Any] = {}
        #: Looked for in the store and not found (until this batch adds them).
        self._absent: set[UUID] = set()
        self._replica: CatalogReplica | None = None
        #: Policy and scale per outcome, for the replica's version they were resolved at.
        self._rules: dict[str, tuple[int, Policy, Scale | None]] = {}

    def get(self, key: UUID) -> Any | None:
        if key not in self.touched:
            if key in self._absent or not self.app.may_exist(key):
                return None
            try:
                self.touched[key] = self.app.owned_aggregate(key)
            except AggregateNotFoundError:
                self._absent.add(key)  # asked once per batch, not once per question
                return None
        return self.touched[key]

    def add(self, aggregate: Any) -> Any:
        self._absent.discard(aggregate.id)
        self.touched[aggregate.id] = aggregate
        self.app.created(aggregate.id)
        return aggregate

    def replica(self) -> CatalogReplica:
        """The partition's catalog copy (looked up once per batch: every attempt needs it)."""
        if self._replica is None:
            found: CatalogReplica | None = self.get(CatalogReplica.create_id(self.partition))
            self._replica = found or self.add(CatalogReplica(partition=self.partition))
        return self._replica

    def rules(self, outcome_id: str) -> tuple[Policy, Scale | None]:
        """The policy in force for ``outcome_id`` and the catalog's scale for it (None when the
        catalog does not know the outcome), resolved again whenever the replica changed."""
        replica = self.replica()
        known = self._rules.get(outcome_id)
        if known is None or known[0] != replica.version:
            policy = self.app.policy_of(replica, outcome_id, None)
            known = (replica.version, policy, replica.scales.get(outcome_id))
            self._rules[outcome_id] = known
        return known[1], known[2]

    def mastery(self, student_id: str, outcome_id: str) -> StudentOutcomeMastery:
        key = mastery_id(student_id, outcome_id)
        found: StudentOutcomeMastery | None = self.touched.get(key) or self.app.cached(key)
        if found is None and self._may_have(student_id, outcome_id):
            found = self.get(key)
        if found is not None:
            self.touched[key] = found
            return found
        self.index("outcome", outcome_id).add(member=student_id)
        self.index("student", student_id).add(member=outcome_id)
        created = StudentOutcomeMastery(student_id=student_id, outcome_id=outcome_id)
        self.add(created)
        return created

    def _may_have(self, student_id: str, outcome_id: str) -> bool:
        """Whether the pair may be in the store. A pair is created in the same transaction that
        adds it to its student's index, so a student index (cached, one per student) without
        the outcome answers "no" without the store query a new pair would otherwise cost
        (nearly every attempt's, when a class is first assessed on an outcome)."""
        index: MembershipIndex | None = self.get(index_id("student", student_id, self.partition))
        return index is not None and outcome_id in index.members

    def index(self, kind: str, key: str) -> MembershipIndex:
        found: MembershipIndex | None = self.get(index_id(kind, key, self.partition))
        return found or self.add(MembershipIndex(kind=kind, key=key, partition=self.partition))


class MasteryApplication(Application[UUID]):
    name = "mastery"
    #: Aggregates stay in memory between batches, handed out without a deep copy (which cost
    #: more than the work itself); a failed batch evicts what it touched, and queries copy.
    #: Not fast-forwarded on every read (a store query per aggregate per batch): a partition
    #: has one consumer at a time, and the cache is dropped when a partition is taken over.
    env = {
        "AGGREGATE_CACHE_MAXSIZE": "50000",
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",
        "AGGREGATE_CACHE_FASTFORWARD": "n",
    }

    def __init__(
        self, env: dict[str, str] | None = None, partitions: int = 1, fresh: bool = False
    ) -> None:
        super().__init__(env)
        # Pairs are kept sealed, one bytes object each, between batches (see
        # ``arc_mastery.cache``), within the size the environment sets for eventsourcing's own
        # cache.
        if isinstance(self.repository.cache, LRUCache):
            self.repository.cache = FrozenAggregateCache(
                self.repository.cache.maxsize, (StudentOutcomeMastery,)
            )
        #: A rebuild writes into a store nobody else writes to: an aggregate this process has
        #: not created does not exist, so looking for it (a query per new pair, the larger part
        #: of a rebuild's time) can be skipped.
        self.fresh = fresh
        self._created: set[UUID] = set()
        self.on_recorded: Callable[[], None] = lambda: None
        #: Per-student events are partitioned (``arc_platform.partitions``); each partition
        #: keeps its own copy of the catalog and its own indexes, so it can move between
        #: replicas.
        self.partitions = partitions
        # The catalog and evidence consumers of one partition write the same aggregates (the
        # partition's catalog copy and indexes): their batches take turns.
        self._partition_locks = [threading.Lock() for _ in range(partitions)]

    def partition_of(self, student_id: str) -> int:
        return partition_of(student_id, self.partitions)

    def owned_aggregate(self, aggregate_id: UUID) -> Any:
        """An aggregate of a partition this replica consumes: nobody else writes it while we
        hold the partition, so the cached copy is current and is used without the store query
        that fast-forwarding costs (the cache is cleared when a partition is taken over)."""
        found = self.cached(aggregate_id)
        return found if found is not None else self.repository.get(aggregate_id)

    def cached(self, aggregate_id: UUID) -> Any | None:
        """The cached aggregate, or None (not necessarily absent from the store)."""
        cache = self.repository.cache
        if cache is None:
            return None
        try:
            return cache.get(aggregate_id)
        except KeyError:
            return None

    def taking_over(self, partition: int) -> None:
        """Another replica may have written this partition since we last held it."""
        with self._partition_locks[partition]:
            self._forget(list(self._cached_ids()))
        log.info("partition %s taken over: cached aggregates dropped", partition)

    def _cached_ids(self) -> Iterable[UUID]:
        cache = self.repository.cache
        if isinstance(cache, FrozenAggregateCache):
            return cache.aggregate_ids()
        return list(cache.cache) if cache is not None else []

    def may_exist(self, aggregate_id: UUID) -> bool:
        return not self.fresh or aggregate_id in self._created

    def created(self, aggregate_id: UUID) -> None:
        if self.fresh:
            self._created.add(aggregate_id)

    def construct_recorder(self) -> ProcessRecorder:
        return self.factory.process_recorder()

    @property
    def process_recorder(self) -> ProcessRecorder:
        assert isinstance(self.recorder, ProcessRecorder)
        return self.recorder

    def position(self, stream: str) -> int:
        return self.process_recorder.max_tracking_id(stream) or 0

    # --- applying events -------------------------------------------------------------------

    def apply_batch(self, partition: int, batch: list[Delivery]) -> None:
        """Apply one partition's deliveries in order; one transaction records effects and the
        new position."""
        with self._partition_locks[partition]:
            work = Batch(self, partition)
            try:
                handlers = self._handlers()

                def apply(event: ContractEvent, envelope: Envelope, _: Delivery) -> None:
                    handler = handlers.get(type(event))
                    if handler is not None:
                        handler(event, envelope.id, envelope.time, work)

                apply_in_order(batch, apply, replaying=self.fresh)  # a rebuild is fresh
                processing = ProcessingEvent[UUID](
                    Tracking(batch[0].tracking_name, batch[-1].sequence)
                )
                # What ``collect_events`` does, without its runtime protocol checks per
                # aggregate (a noticeable part of a batch): ours are all mutable aggregates.
                for aggregate in work.touched.values():
                    processing.events.extend(aggregate.collect_events())
                    processing.aggregates[aggregate.id] = aggregate
                self._record(processing)
            except BaseException:
                self._forget(work.touched)
                raise
        if processing.events:
            self.on_recorded()

    def _handlers(self) -> dict[type[ContractEvent], Callable[..., None]]:
        return {
            AttemptRecordedV1: self._on_attempt,
            AttemptVoidedV1: self._on_void,
            OutcomeDefinedV1: self._on_outcome,
            PolicyDefinedV1: self._on_policy,
            CourseDefinedV1: self._on_course,
        }

    def _on_attempt(
        self, event: AttemptRecordedV1, event_id: str, _time: datetime, work: Batch
    ) -> None:
        self._check_partition(event.student_id, work)
        mastery = work.mastery(event.student_id, event.outcome_id)
        if mastery.knows(event.attempt_id):
            log.warning("attempt %s already applied; ignored", event.attempt_id)
            return
        mastery.note(
            attempt_id=event.attempt_id,
            status=event.status,
            score=event.score,
            assessed_at=event.assessed_at,
            recorded_at=event.recorded_at,
            weight=event.weight,
            tags=sorted({*event.tags}),
            kind=event.assessment_kind,
            supersedes=event.supersedes,
            scale=scale_primitive_of(event.scale),
            cause_event_id=event_id,
        )
        self._settle(mastery, work, "evidence", event_id, mastery.item(event.attempt_id))

    def _on_void(self, event: AttemptVoidedV1, event_id: str, _time: datetime, work: Batch) -> None:
        self._check_partition(event.student_id, work)
        mastery = work.mastery(event.student_id, event.outcome_id)
        if not mastery.knows(event.attempt_id):
            log.error("void of unknown attempt %s ignored", event.attempt_id)
            return
        mastery.void(
            attempt_id=event.attempt_id,
            reason=event.reason,
            voided_at=event.voided_at,
            cause_event_id=event_id,
        )
        self._settle(mastery, work, "void", event_id, mastery.item(event.attempt_id))

    def _on_outcome(
        self, event: OutcomeDefinedV1, event_id: str, _t: datetime, work: Batch
    ) -> None:
        replica = work.replica()
        if replica.outcome_revisions.get(event.outcome_id, 0) >= event.revision:
            return
        before = replica.scales.get(event.outcome_id)
        scale = scale_of(event.scale)
        replica.learn_outcome(
            outcome_id=event.outcome_id,
            revision=event.revision,
            scale=scale_to_primitive(scale),
            parent_id=event.parent_id,
        )
        if before is not None and _scale_rules(before) != _scale_rules(scale):
            self._recompute([event.outcome_id], work, "scale_change", event_id)

    def _on_policy(
        self, event: PolicyDefinedV1, event_id: str, time: datetime, work: Batch
    ) -> None:
        replica = work.replica()
        if replica.knows_policy(event.policy_id, event.revision):
            return
        replica.learn_policy(
            policy_id=event.policy_id,
            revision=event.revision,
            scope=event.scope,
            scope_id=event.scope_id,
            method=event.method,
            params={k: v for k, v in event.params.items() if k not in ROLLUP_PARAMS},
            excluded_evidence_tags=sorted(event.excluded_evidence_tags),
            rollup_params={k: v for k, v in event.params.items() if k in ROLLUP_PARAMS},
            known_at=time,
        )
        affected = policies.outcomes_affected(
            replica.policies[-1], replica.course_outcomes, self._indexed_outcomes(replica)
        )
        self._recompute(affected, work, "policy_change", event_id, policy_id=event.policy_id)

    def _on_course(self, event: CourseDefinedV1, event_id: str, _t: datetime, work: Batch) -> None:
        replica = work.replica()
        if replica.course_revisions.get(event.course_id, 0) >= event.revision:
            return
        previous = set(replica.course_outcomes.get(event.course_id, []))
        outcomes = [item.outcome_id for item in event.outcomes]
        replica.learn_course(
            course_id=event.course_id,
            revision=event.revision,
            outcomes=outcomes,
            power=[item.outcome_id for item in event.outcomes if item.power],
        )
        # A course policy now reaches (or no longer reaches) these outcomes.
        changed = sorted(previous.symmetric_difference(outcomes))
        self._recompute(changed, work, "policy_change", event_id)

    def _forget(self, aggregate_ids: Iterable[UUID]) -> None:
        """Evict aggregates a failed batch may have changed without saving."""
        cache = self.repository.cache
        if cache is not None:
            for aggregate_id in aggregate_ids:
                with contextlib.suppress(KeyError):
                    cache.get(aggregate_id, evict=True)

    def _check_partition(self, student_id: str, work: Batch) -> None:
        if self.partition_of(student_id) != work.partition:
            raise ValueError(
                f"student {student_id!r} belongs to partition {self.partition_of(student_id)}, "
                f"not {work.partition}: the partition count differs between publisher and "
                f"consumer (ARC_PARTITIONS)"
            )

    def _indexed_outcomes(self, replica: CatalogReplica) -> list[str]:
        return sorted(replica.outcome_revisions)

    def _recompute(
        self,
        outcome_ids: list[str],
        work: Batch,
        cause_kind: str,
        event_id: str,
        policy_id: str | None = None,
    ) -> None:
        for outcome_id in outcome_ids:
            index: MembershipIndex | None = work.get(
                index_id("outcome", outcome_id, work.partition)
            )
            for student_id in index.members if index else []:
                mastery = work.mastery(student_id, outcome_id)
                self._settle(mastery, work, cause_kind, event_id, None)

    def _settle(
        self,
        mastery: StudentOutcomeMastery,
        work: Batch,
        cause_kind: str,
        event_id: str,
        attempt: Evidence | None,
    ) -> None:
        policy, scale = work.rules(mastery.outcome_id)
        explanation = explain(mastery.evidence, policy, scale or self._last_scale(mastery))
        mastery.settle(
            explanation,
            cause_kind=cause_kind,
            cause_event_id=event_id,
            attempt=attempt,
            traceparent=current_traceparent(),
        )

    def _explain(
        self,
        replica: CatalogReplica,
        mastery: StudentOutcomeMastery,
        items: list[Evidence],
        policy_at: datetime | None = None,
    ) -> Explanation:
        return explain(
            items,
            self.policy_of(replica, mastery.outcome_id, policy_at),
            replica.scales.get(mastery.outcome_id) or self._last_scale(mastery),
        )

    def policy_of(self, replica: CatalogReplica, outcome_id: str, at: datetime | None) -> Policy:
        return policies.resolve(
            replica.policies, outcome_id, replica.courses_assessing(outcome_id), at
        )

    def _last_scale(self, mastery: StudentOutcomeMastery) -> Scale:
        """The scale of the newest evidence, for an outcome the catalog copy does not know."""
        assert mastery.last_scale is not None, "mastery without evidence has no scale"
        return scale_from_primitive(mastery.last_scale)

    # --- queries ---------------------------------------------------------------------------

    def current(self, aggregate_id: UUID) -> Any:
        """A private copy, brought up to date with the store: the cached object may be
        changing under a batch, or stale if another replica now consumes its partition."""
        cache = self.repository.cache
        try:
            found = copy.deepcopy(cache.get(aggregate_id)) if cache is not None else None
        except KeyError:
            found = None
        if found is None:
            return self.repository.get(aggregate_id, version=sys.maxsize)
        for event in self.events.get(aggregate_id, gt=found.version):
            cast(Any, event).mutate(found)  # our events are the mutating kind
        return found

    def replica(self, student_id: str) -> CatalogReplica:
        """The copy of the catalog kept by the student's partition."""
        partition = self.partition_of(student_id)
        try:
            found: CatalogReplica = self.current(CatalogReplica.create_id(partition))
        except AggregateNotFoundError:
            return CatalogReplica(partition=partition)
        return found

    def find_mastery(self, student_id: str, outcome_id: str) -> StudentOutcomeMastery | None:
        try:
            found: StudentOutcomeMastery = self.current(mastery_id(student_id, outcome_id))
        except AggregateNotFoundError:
            return None
        return found

    def explanation(
        self,
        student_id: str,
        outcome_id: str,
        *,
        as_known_at: datetime | None = None,
        as_assessed_by: datetime | None = None,
    ) -> Explanation | None:
        """Why the student stands where they do — now, as known at a moment (evidence recorded
        by then, the policy then in force), or as assessed by a date (all we know now)."""
        mastery = self.find_mastery(student_id, outcome_id)
        if mastery is None:
            return None
        items = list(mastery.evidence)
        if as_known_at is not None:
            items = known_at(items, as_known_at)
        if as_assessed_by is not None:
            items = assessed_by(items, as_assessed_by)
        return self._explain(self.replica(student_id), mastery, items, policy_at=as_known_at)

    def standings_of(self, student_id: str, outcome_ids: list[str]) -> dict[str, Standing]:
        found = {}
        for outcome_id in outcome_ids:
            mastery = self.find_mastery(student_id, outcome_id)
            if mastery is not None:
                found[outcome_id] = mastery.standing
        return found

    def outcomes_of_student(self, student_id: str) -> list[str]:
        try:
            index: MembershipIndex = self.current(
                index_id("student", student_id, self.partition_of(student_id))
            )
        except AggregateNotFoundError:
            return []
        return list(index.members)

    def history(self, student_id: str, outcome_id: str) -> list[Any]:
        return list(self.events.get(mastery_id(student_id, outcome_id)))

    def all_states(self) -> list[MasteryState]:
        """Every student-outcome pair, read back from the store (for rebuild comparisons)."""
        states = []
        for aggregate_id in self._mastery_ids():
            mastery: StudentOutcomeMastery = self.current(aggregate_id)
            changes = sum(
                isinstance(stored, StudentOutcomeMastery.StandingChanged)
                for stored in self.events.get(aggregate_id)
            )
            states.append(
                MasteryState(
                    mastery.student_id,
                    mastery.outcome_id,
                    mastery.standing.value,
                    mastery.standing.status,
                    mastery.attempt_ids(),
                    changes,
                )
            )
        return sorted(states, key=lambda s: (s.student_id, s.outcome_id))

    def _mastery_ids(self) -> Iterator[UUID]:
        position = 0
        topic = get_topic(StudentOutcomeMastery.Started)
        while True:
            notes = self.recorder.select_notifications(
                position, 1000, topics=[topic], inclusive_of_start=False
            )
            if not notes:
                return
            for note in notes:
                yield UUID(str(note.originator_id))
            position = notes[-1].id


def _scale_rules(scale: Scale) -> tuple[object, ...]:
    """What of a scale changes standings (not its name)."""
    return (scale.levels, scale.minimum, scale.maximum, scale.mastery_threshold, scale.step)


class UnknownScope(LookupError):
    """The course or outcome asked about is unknown to mastery's copy of the catalog."""

    def __init__(self, field: str, description: str) -> None:
        super().__init__(f"{field}: {description}")
        self.field = field
        self.description = description


def course_rollup(app: MasteryApplication, student_id: str, course_id: str) -> RollUp:
    """The course-level standing by the course's (or network's) ``course_rollup`` rule
    (default ``mean``)."""
    replica = app.replica(student_id)
    if course_id not in replica.course_outcomes:
        raise UnknownScope("course_id", f"unknown course {course_id!r}")
    outcomes = replica.course_outcomes[course_id]
    rule = _rollup_rule(replica, "course_rollup", "course", course_id, default="mean")
    standings = app.standings_of(student_id, outcomes)
    threshold = _threshold(replica, outcomes)
    return rollups.course_rollup(rule, standings, replica.course_power[course_id], threshold)


def parent_rollup(app: MasteryApplication, student_id: str, outcome_id: str) -> RollUp:
    """A parent outcome's standing from its children by the ``parent_rollup`` rule (outcome,
    then network policy; default ``all_children_mastered``)."""
    replica = app.replica(student_id)
    children = replica.children_of(outcome_id)
    if not children:
        raise UnknownScope("outcome_id", f"{outcome_id!r} has no child outcomes")
    rule = _rollup_rule(
        replica, "parent_rollup", "outcome", outcome_id, default="all_children_mastered"
    )
    standings = {c: s for c, s in app.standings_of(student_id, children).items()}
    for child in children:
        standings.setdefault(child, NO_EVIDENCE)
    return rollups.parent_rollup(rule, standings, _threshold(replica, children))


def _rollup_rule(replica: CatalogReplica, key: str, scope: str, scope_id: str, default: str) -> str:
    for candidate in ((scope, scope_id), ("network", None)):
        rule = replica.rollup_params.get(candidate, {}).get(key)
        if rule:
            return rule
    return default


def _threshold(replica: CatalogReplica, outcomes: list[str]) -> Decimal:
    for outcome_id in outcomes:
        if outcome_id in replica.scales:
            return replica.scales[outcome_id].mastery_threshold
    return Decimal(3)
