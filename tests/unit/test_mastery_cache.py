"""The replica's aggregate cache keeps pairs sealed (or frozen) between batches: what comes out
equals what was saved, each batch gets its own copy, the least recently used goes first, and a
sealed pair costs a fraction of a live one."""

from __future__ import annotations

import contextlib
import copy
import gc
import random
import threading
import tracemalloc
from collections import OrderedDict
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import LRUCache

from arc_mastery import cache as cache_module
from arc_mastery.cache import FrozenAggregateCache, _Sealed
from arc_mastery.domain import MembershipIndex, StudentOutcomeMastery
from arc_mastery.packed import PackedEvidence
from arc_mastery.standing import Level, Standing

SCALE: dict[str, Any] = {"scale_id": "four", "levels": [1, 2, 3, 4], "mastery_threshold": 3}
DAY = datetime(2026, 9, 1, 9, 30, tzinfo=UTC)


def pair(attempts: int = 3, student: str = "s1", outcome: str = "o1") -> StudentOutcomeMastery:
    found = StudentOutcomeMastery(student_id=student, outcome_id=outcome)
    for n in range(attempts):
        note(found, n)
    found.collect_events()  # saved
    return found


NOTED: dict[str, Any] = {
    "status": "scored",
    "score": Decimal(2),
    "assessed_at": DAY,
    "recorded_at": DAY,
    "weight": Decimal(1),
    "tags": ["quiz"],
    "kind": "test",
    "supersedes": None,
    "scale": SCALE,
    "cause_event_id": "evt",
}


def note(found: StudentOutcomeMastery, n: int) -> None:
    found.note(
        attempt_id=str(uuid4()),
        status="scored",
        score=Decimal(1 + n % 4),
        assessed_at=DAY + timedelta(days=n),
        recorded_at=DAY + timedelta(days=n, microseconds=17),
        weight=Decimal(1),
        tags=["quiz"],
        kind="test",
        supersedes=None,
        scale=SCALE,
        cause_event_id=f"evt-{n}",
    )


def cache(maxsize: int = 100) -> FrozenAggregateCache:
    return FrozenAggregateCache(maxsize, (StudentOutcomeMastery,))


def test_a_pair_comes_back_equal_and_a_copy_of_its_own() -> None:
    kept = cache()
    saved = pair()
    kept.put(saved.id, saved)
    got = kept.get(saved.id)
    assert got == saved  # every attribute
    assert got is not saved
    assert got.id == saved.id and got.version == saved.version == 4
    assert got.created_on == saved.created_on and got.created_on.tzinfo is UTC
    assert got.modified_on == saved.modified_on
    assert got.modified_on.isoformat() == saved.modified_on.isoformat()
    assert got.evidence == saved.evidence
    assert got.pending_events == []
    assert list(vars(got)) == list(vars(saved))  # in the same order: the same repr
    assert repr(got) == repr(saved)


def test_what_a_batch_changes_in_its_copy_is_not_in_the_cache_until_saved() -> None:
    kept = cache()
    saved = pair()
    kept.put(saved.id, saved)
    in_batch = kept.get(saved.id)
    note(in_batch, 9)
    assert len(kept.get(saved.id).evidence) == 3  # an unsaved change: not there
    in_batch.collect_events()
    kept.put(in_batch.id, in_batch)
    again = kept.get(saved.id)
    assert len(again.evidence) == 4
    assert again.version == 5


def test_times_not_in_utc_are_kept_as_they_are() -> None:
    kept = cache()
    saved = pair()
    saved.modified_on = datetime(2026, 9, 2, 8, 0, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    kept.put(saved.id, saved)
    got = kept.get(saved.id)
    assert got.modified_on.isoformat() == "2026-09-02T08:00:00.000005+02:00"
    assert got.created_on == saved.created_on


def test_other_aggregates_and_pairs_with_uncollected_events_are_kept_as_they_are() -> None:
    kept = cache()
    index = MembershipIndex(kind="student", key="s1", partition=0)
    kept.put(index.id, index)
    assert kept.get(index.id) is index
    unsaved = StudentOutcomeMastery(student_id="s2", outcome_id="o1")
    kept.put(unsaved.id, unsaved)
    assert kept.get(unsaved.id) is unsaved


def test_the_least_recently_used_goes_first() -> None:
    kept = cache(maxsize=2)
    first, second, third = (pair(1, student=f"s{n}") for n in range(3))
    kept.put(first.id, first)
    kept.put(second.id, second)
    kept.get(first.id)  # used: now the most recent
    kept.put(third.id, third)
    with pytest.raises(KeyError):
        kept.get(second.id)
    assert kept.get(first.id) == first
    assert kept.get(third.id) == third
    assert sorted(kept.aggregate_ids()) == sorted([first.id, third.id])


@pytest.mark.parametrize("maxsize", [1, 2, 3, 5, 8])
def test_evictions_follow_the_order_of_use(maxsize: int) -> None:
    """Against a plain model of least-recently-used, over a long mixed run of uses."""
    rng = random.Random(maxsize)
    kept = FrozenAggregateCache(maxsize, ())  # kept as they are: the order is what is tested
    model: OrderedDict[UUID, int] = OrderedDict()
    ids = [uuid4() for _ in range(maxsize * 3)]
    for step in range(2000):
        chosen = rng.choice(ids)
        if rng.random() < 0.5:
            kept.put(chosen, step)
            model[chosen] = step
            model.move_to_end(chosen)
            while len(model) > maxsize:
                model.popitem(last=False)
        elif chosen in model:
            assert kept.get(chosen) == model[chosen]
            model.move_to_end(chosen)
        else:
            with pytest.raises(KeyError):
                kept.get(chosen)
        assert sorted(kept.aggregate_ids()) == sorted(model)


def test_eviction_removes_and_an_empty_cache_is_still_a_cache() -> None:
    kept = cache()
    assert kept  # eventsourcing asks "if cache" before it puts anything in
    saved = pair()
    kept.put(saved.id, saved)
    assert kept.get(saved.id, evict=True) == saved
    with pytest.raises(KeyError):
        kept.get(saved.id)
    assert kept.aggregate_ids() == []


def test_a_deep_copy_of_a_thawed_pair_is_equal() -> None:
    kept = cache()
    saved = pair()
    kept.put(saved.id, saved)
    assert copy.deepcopy(kept.get(saved.id)) == saved


def test_partitions_in_threads_can_share_it() -> None:
    kept = cache(maxsize=50)
    pairs = [pair(1, student=f"s{n}") for n in range(200)]
    failures: list[BaseException] = []

    def work(mine: list[StudentOutcomeMastery]) -> None:
        try:
            for _ in range(20):
                for found in mine:
                    kept.put(found.id, found)
                    with contextlib.suppress(KeyError):  # evicted by another thread meanwhile
                        assert kept.get(found.id) == found
        except BaseException as failure:
            failures.append(failure)

    threads = [threading.Thread(target=work, args=(pairs[n::4],)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert len(kept.aggregate_ids()) == 50


def test_a_frozen_pair_costs_a_fraction_of_a_live_one() -> None:
    """7.5 attempts a pair, and a student's pairs sharing its id, as in the bench's network:
    sealed in the cache, a pair with its packed evidence costs about 550 bytes; live (in
    eventsourcing's cache) about 930."""
    pairs = 300

    def per_pair(kept: Any) -> float:
        pair(8)  # the shapes of these attempts numbered before counting
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for n in range(pairs):
                found = pair(7 + n % 2, student=f"s{n // 60}", outcome=f"o{n % 60}")
                kept.put(found.id, found)
            del found
            gc.collect()
            return (tracemalloc.get_traced_memory()[0] - before) / pairs
        finally:
            tracemalloc.stop()

    frozen = per_pair(cache(maxsize=1000))
    live = per_pair(LRUCache(maxsize=1000))
    assert frozen < 600, frozen
    assert live > frozen * 1.5, (live, frozen)


def test_a_pair_is_sealed_in_one_bytes_object_of_a_header_and_its_rows() -> None:
    kept = cache()
    saved = pair(5)
    kept.put(saved.id, saved)
    [entry] = kept._entries.values()
    assert type(entry) is _Sealed
    rows = bytes(saved.packed_evidence)
    # layout, version, both times, then student, outcome, standing and scale: 2 + 4 + 16 + 16
    assert len(entry) == 38 + len(rows) and entry.endswith(rows)
    got = kept.get(saved.id)
    assert type(got.packed_evidence) is PackedEvidence
    assert got.student_id is saved.student_id and got.standing is saved.standing
    assert got.last_scale is saved.last_scale


def test_a_pair_with_a_void_is_sealed_and_comes_back_equal() -> None:
    kept = cache()
    voided = pair(3, student="s-void")
    voided.void(voided.evidence[1].attempt_id, "wrong student", DAY, "evt-void")
    voided.collect_events()
    kept.put(voided.id, voided)
    assert type(kept._entries[voided.id.int]) is _Sealed
    got = kept.get(voided.id)
    assert got == voided and repr(got) == repr(voided)
    assert type(got.packed_evidence) is type(voided.packed_evidence)
    assert got.evidence[1].void_reason == "wrong student"


def test_a_pair_with_loose_evidence_or_with_the_shared_values_full_is_frozen_and_comes_back_equal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kept = cache()
    loose = StudentOutcomeMastery(student_id="s-loose", outcome_id="o1")
    note(loose, 0)
    loose.note(**(NOTED | {"attempt_id": "att-not-a-uuid"}))
    loose.collect_events()
    kept.put(loose.id, loose)
    monkeypatch.setattr(cache_module._SHARED, "limit", len(cache_module._SHARED.values))
    crowded = pair(3, student="s-new-student")  # a new id to number, and no room for it
    kept.put(crowded.id, crowded)
    for saved in (loose, crowded):
        assert type(kept._entries[saved.id.int]).__name__ == "_Frozen"
        got = kept.get(saved.id)
        assert got == saved and repr(got) == repr(saved)
    assert kept.get(loose.id).evidence[1].attempt_id == "att-not-a-uuid"


def test_standings_written_the_same_way_share_one_number_whichever_object_a_pair_holds() -> None:
    """A cleared table of shared standings makes new copies of the same standings: they are not
    new values to number (numbered by identity, they would fill the table over time)."""
    kept = cache()
    saved = pair(3, student="s-standing")

    def approaching(value: str, explanation: str = "") -> Standing:
        return Standing(
            Decimal(value), Level(Decimal(2), "Approaching"), "approaching", 3, explanation
        )

    saved.standing = approaching("2.5")
    kept.put(saved.id, saved)
    numbered = len(cache_module._SHARED.values)
    for copy_of in (approaching("2.5"), copy.deepcopy(saved.standing)):
        assert copy_of is not saved.standing
        saved.standing = copy_of
        kept.put(saved.id, saved)
        assert kept.get(saved.id) == saved
    assert len(cache_module._SHARED.values) == numbered  # nothing new to number
    for written_otherwise in (approaching("2.50"), approaching("2.5", "explained")):
        saved.standing = written_otherwise
        kept.put(saved.id, saved)
        got = kept.get(saved.id).standing
        assert str(got.value) == str(written_otherwise.value)
        assert got.explanation == written_otherwise.explanation
    assert len(cache_module._SHARED.values) == numbered + 2
