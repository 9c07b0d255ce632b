"""A pair's evidence kept packed gives back exactly what was kept (equal, and written the same
way: the same ISO times, the same decimal places), finds attempts by id, replaces an attempt in
its place, keeps what does not fit a row as it is, and costs a fraction of the objects."""

from __future__ import annotations

import copy
import gc
import sys
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arc_contracts import AttemptRecordedV1
from arc_mastery import packed
from arc_mastery.packed import PackedEvidence, pack
from arc_mastery.standing import Evidence

DAY = datetime(2026, 9, 1, 9, 30, tzinfo=UTC)


def evidence(**changes: Any) -> Evidence:
    values: dict[str, Any] = {
        "attempt_id": str(uuid4()),
        "status": "scored",
        "score": Decimal("3"),
        "assessed_at": DAY,
        "recorded_at": DAY + timedelta(hours=2, microseconds=17),
        "weight": Decimal(1),
        "tags": frozenset({"quiz"}),
        "kind": "test",
    } | changes
    return Evidence(**values)


def written(item: Evidence) -> tuple[object, ...]:
    """Every field as text: what an explanation or an export shows."""
    found: list[object] = []
    for field in fields(item):
        value = getattr(item, field.name)
        if isinstance(value, datetime):
            found.append(value.isoformat())
        else:
            found.append(repr(sorted(value) if isinstance(value, frozenset) else value))
    return tuple(found)


def kept(*items: Evidence) -> PackedEvidence:
    found = PackedEvidence()
    for item in items:
        found = found.with_item(item, found.position(item.attempt_id))
    return found


def assert_same(got: Evidence, expected: Evidence) -> None:
    assert got == expected
    assert written(got) == written(expected)


def test_an_ordinary_attempt_fits_a_row_and_comes_back_the_same() -> None:
    item = evidence()
    assert pack(item) is not None
    evidence_kept = kept(item)
    assert len(evidence_kept) == 1
    assert_same(evidence_kept.items()[0], item)


@pytest.mark.parametrize(
    "changes",
    [
        {"score": Decimal("3.0")},
        {"score": Decimal("87.25"), "weight": Decimal("0.5")},
        {"score": None, "status": "excused"},
        {"assessed_at": datetime(2026, 9, 1, 9, 30, tzinfo=timezone(timedelta(hours=-5)))},
        {"recorded_at": datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)},
        {"tags": frozenset()},
        {"kind": "project"},
    ],
)
def test_values_written_differently_come_back_written_the_same_way(changes: dict[str, Any]) -> None:
    item = evidence(**changes)
    assert pack(item) is not None
    assert_same(kept(item).items()[0], item)


def test_time_read_by_pydantic_round_trips_to_the_same_instant_and_text() -> None:
    contract = AttemptRecordedV1.model_validate(
        {
            "attempt_id": "a",
            "student_id": "s",
            "outcome_id": "o",
            "outcome_revision": 1,
            "scale": {
                "scale_id": "four",
                "name": "Four",
                "mastery_threshold": 3,
                "levels": [{"value": v, "label": str(v)} for v in (1, 2, 3, 4)],
            },
            "score": "3",
            "assessed_at": "2026-09-01T09:30:00.000123+02:00",
            "recorded_at": "2026-09-01T10:00:00Z",
            "recorded_by": "t",
        }
    )
    item = evidence(assessed_at=contract.assessed_at, recorded_at=contract.recorded_at)
    assert pack(item) is not None
    assert_same(kept(item).items()[0], item)


@pytest.mark.parametrize(
    "changes",
    [
        {"attempt_id": "att-7"},  # not a UUID
        {"attempt_id": str(uuid4()).upper()},  # a UUID not written canonically
        {"supersedes": str(uuid4())},  # a correction
        {"supersedes": str(uuid4()), "voided_at": DAY, "void_reason": "twice"},  # a void of one
        {"voided_at": datetime(2026, 9, 1, 9, 30), "void_reason": "entered twice"},  # no zone
        {"assessed_at": datetime(2026, 9, 1, 9, 30)},  # no zone
        {"assessed_at": datetime(2026, 11, 1, 1, 30, tzinfo=ZoneInfo("America/New_York"))},
        {"recorded_at": DAY.astimezone(timezone(timedelta(seconds=30.5)))},
    ],
)
def test_what_does_not_fit_a_row_is_kept_as_it_is(changes: dict[str, Any]) -> None:
    item = evidence(**changes)
    assert pack(item) is None
    before, after = evidence(), evidence()
    evidence_kept = kept(before, item, after)
    assert evidence_kept.items() == (before, item, after)
    assert evidence_kept.items()[1] is item
    assert evidence_kept.position(item.attempt_id) == 1
    assert evidence_kept.position(after.attempt_id) == 2


def test_a_new_version_of_an_attempt_takes_its_place_and_may_move_in_or_out_of_a_row() -> None:
    first, second, third = evidence(), evidence(), evidence()
    voided = replace(first, voided_at=DAY, void_reason="wrong student")
    evidence_kept = kept(first, second, third, voided)
    assert evidence_kept.items() == (voided, second, third)
    # Back into a row (a re-recorded attempt without the void).
    restored = kept(*evidence_kept.items(), first)
    assert restored.items() == (first, second, third)
    assert pack(restored.items()[0]) is not None


def test_a_void_keeps_the_attempts_row_and_adds_a_record_after_the_rows() -> None:
    first, second, third = evidence(), evidence(), evidence()
    voided = replace(
        second, voided_at=DAY.astimezone(timezone(timedelta(hours=-5))), void_reason="wrong student"
    )
    evidence_kept = kept(first, second, third, voided)
    assert not hasattr(evidence_kept, "__dict__")
    # three rows, then the void's record (position, time, offset, reason) and the count
    assert bytes.__len__(evidence_kept) == 3 * packed.ROW_SIZE + 20 + 4
    assert len(evidence_kept) == 3
    assert evidence_kept.items() == (first, voided, third)
    assert_same(evidence_kept.item(1), voided)
    assert evidence_kept.position(voided.attempt_id) == 1
    assert evidence_kept.position(third.attempt_id) == 2
    assert evidence_kept == kept(first, second, third, voided)
    assert evidence_kept != kept(first, second, third)
    other_reason = kept(first, second, third, replace(voided, void_reason="entered twice"))
    assert evidence_kept != other_reason
    # A new attempt after a void goes after the rows, not after the records.
    fourth = evidence()
    grown = evidence_kept.with_item(fourth)
    assert grown.items() == (first, voided, third, fourth)
    assert grown.position(fourth.attempt_id) == 3
    # Re-recorded without the void: back to rows alone.
    restored = grown.with_item(second, 1)
    assert type(restored) is PackedEvidence
    assert restored.items() == (first, second, third, fourth)


def test_voids_beside_loose_evidence_are_loose_too_and_come_back_equal() -> None:
    first, second = evidence(), evidence()
    voided = replace(first, voided_at=DAY, void_reason="wrong student")
    loose = evidence(attempt_id="att-1")
    evidence_kept = kept(first, second, voided, loose)
    assert evidence_kept.items() == (voided, second, loose)
    assert evidence_kept.position(first.attempt_id) == 0
    assert evidence_kept.position("att-1") == 2
    # the loose one replaced by one that fits a row: the void stays kept as it was
    replaced = evidence_kept.with_item(replace(loose, attempt_id=str(uuid4())), 2)
    assert replaced.items()[:2] == (voided, second)


def test_reasons_beyond_the_table_are_kept_loose(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packed._REASONS, "limit", len(packed._REASONS.values))
    item = evidence()
    voided = replace(item, voided_at=DAY, void_reason=f"a reason never seen {uuid4()}")
    evidence_kept = kept(item, voided)
    assert evidence_kept.items() == (voided,)
    assert evidence_kept.items()[0] is voided  # loose: kept as it is


def test_attempts_are_found_by_id_and_nothing_else() -> None:
    items = [evidence() for _ in range(8)]
    evidence_kept = kept(*items)
    for position, item in enumerate(items):
        assert evidence_kept.position(item.attempt_id) == position
        assert_same(evidence_kept.item(position), item)
    assert evidence_kept.position(str(uuid4())) is None
    assert evidence_kept.position("not-an-id") is None
    with pytest.raises(IndexError):
        evidence_kept.item(8)


def test_an_id_whose_bytes_appear_in_another_field_is_not_taken_for_it() -> None:
    item = evidence()
    row = pack(item)
    assert row is not None
    # The 16 bytes starting two bytes into the row straddle the id and the time after it.
    lookalike = str(UUID(bytes=row[2:18]))
    assert kept(item).position(lookalike) is None


def test_the_all_zero_id_is_not_taken_for_a_loose_row() -> None:
    loose = evidence(attempt_id="att-1")
    zero = str(UUID(int=0))
    assert kept(loose).position(zero) is None
    both = kept(loose, evidence(attempt_id=zero))
    assert both.position(zero) == 1


def test_a_copy_shares_the_packed_evidence_which_never_changes_in_place() -> None:
    evidence_kept = kept(evidence())
    assert copy.deepcopy(evidence_kept) is evidence_kept
    grown = evidence_kept.with_item(evidence())
    assert len(evidence_kept) == 1
    assert len(grown) == 2


def test_values_beyond_the_table_are_kept_loose(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packed._SHAPES, "limit", len(packed._SHAPES.values))
    item = evidence(score=Decimal("1.23456789"))
    assert pack(item) is None
    assert kept(item).items() == (item,)


def test_a_pair_without_loose_evidence_is_one_bytes_object_of_its_rows() -> None:
    items = [evidence() for _ in range(3)]
    evidence_kept = kept(*items)
    # A subclass of bytes carries the garbage collector's header (16 bytes), and nothing else.
    assert sys.getsizeof(evidence_kept) <= sys.getsizeof(bytes(3 * packed.ROW_SIZE)) + 16
    assert not hasattr(evidence_kept, "__dict__")
    with_loose = kept(*items, evidence(attempt_id="att-1"))
    assert with_loose.items()[:3] == tuple(items)
    assert not hasattr(with_loose.with_item(evidence(), 3), "__dict__")  # the loose one replaced


def test_packed_evidence_is_equal_only_with_the_same_evidence() -> None:
    first, second = evidence(), evidence()
    assert kept(first, second) == kept(first, second)
    assert kept(first, second) != kept(second, first)
    loose, other_loose = evidence(attempt_id="att-1"), evidence(attempt_id="att-2")
    assert kept(first, loose) == kept(first, loose)
    # Both loose rows are zeros: only what is kept beside them tells them apart.
    assert kept(first, loose) != kept(first, other_loose)
    assert kept(first, other_loose) != kept(first, loose)
    assert kept(first) != kept(first, loose)


def test_a_pairs_attempts_cost_a_fraction_of_the_objects() -> None:
    """7.5 attempts a pair (the bench's network): packed they cost under 350 bytes a pair (34
    a row, and the one object), as objects (each with its id and recorded-at time) about
    2 KB."""
    pairs = 400
    recorded = [DAY + timedelta(seconds=n) for n in range(pairs * 8)]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept_pairs = []
        for pair in range(pairs):
            evidence_kept = PackedEvidence()
            for n in range(7 + pair % 2):
                evidence_kept = evidence_kept.with_item(
                    evidence(attempt_id=str(uuid4()), recorded_at=recorded[pair * 8 + n])
                )
            kept_pairs.append(evidence_kept)
        gc.collect()
        per_pair = (tracemalloc.get_traced_memory()[0] - before) / pairs
    finally:
        tracemalloc.stop()
    assert per_pair < 350, per_pair
    assert len(kept_pairs) == pairs


def _fixed_zone(minutes: int) -> timezone:
    return UTC if minutes == 0 else timezone(timedelta(minutes=minutes))


times = st.builds(
    lambda moment, minutes: moment.replace(tzinfo=UTC).astimezone(_fixed_zone(minutes)),
    st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2200, 1, 1)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda d: abs(d.adjusted()) < 30
)
items = st.builds(
    Evidence,
    attempt_id=st.one_of(st.uuids().map(str), st.text(max_size=40)),
    status=st.sampled_from(["scored", "excused", "missing"]),
    score=st.one_of(st.none(), decimals),
    assessed_at=times,
    recorded_at=times,
    weight=decimals,
    tags=st.frozensets(st.sampled_from(["quiz", "homework", "self_assessment", "lab"])),
    kind=st.sampled_from(["test", "project", "observation"]),
    supersedes=st.one_of(st.none(), st.uuids().map(str)),
    voided_at=st.one_of(st.none(), times),
    void_reason=st.one_of(st.none(), st.text(max_size=10)),
)


@given(st.lists(items, max_size=12))
def test_any_evidence_comes_back_exactly_as_kept(given_items: list[Evidence]) -> None:
    expected: dict[str, Evidence] = {}
    evidence_kept = PackedEvidence()
    for item in given_items:
        evidence_kept = evidence_kept.with_item(item, evidence_kept.position(item.attempt_id))
        expected[item.attempt_id] = item
    got = evidence_kept.items()
    assert len(got) == len(expected)
    for got_item, expected_item in zip(got, expected.values(), strict=True):
        assert_same(got_item, expected_item)
        assert evidence_kept.position(expected_item.attempt_id) is not None


class SlowToCount(list[Any]):
    """A table of values that lets other threads run while it is counted: where numbering a new
    value and adding it were two steps, two threads would give their values one number."""

    def __len__(self) -> int:
        counted = super().__len__()
        time.sleep(0.0005)
        return counted


def test_values_first_seen_by_several_threads_at_once_each_keep_their_own_number(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Partitions apply in worker threads, and each may meet a value first."""
    monkeypatch.setattr(packed._SHAPES, "values", SlowToCount(packed._SHAPES.values))
    monkeypatch.setattr(packed._SHAPES, "numbers", dict(packed._SHAPES.numbers))
    items = [[evidence(score=Decimal(f"{t}.{n:03d}7")) for n in range(40)] for t in range(4)]
    with ThreadPoolExecutor(len(items)) as pool:
        rows = list(pool.map(lambda batch: [pack(item) for item in batch], items))
    for batch, packed_rows in zip(items, rows, strict=True):
        for item, row in zip(batch, packed_rows, strict=True):
            assert row is not None
            assert_same(PackedEvidence(row).items()[0], item)
