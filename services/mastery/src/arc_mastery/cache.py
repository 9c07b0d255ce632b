"""The replica's aggregate cache, with pairs kept sealed between batches.

A replica keeps every student-outcome pair it holds in memory between batches, so what a pair
costs there is what the projection costs. As a live aggregate, a pair also carries what only a
batch needs: an object with its attribute dictionary, an empty list of pending events, its id as
a ``UUID`` object, two ``datetime`` objects and eventsourcing's cache link (a four-item list).

Sealed, a pair is one bytes object: a header (its layout's number, its version, both times as
microseconds, and the numbers of the values it shares with other pairs: its student and outcome
ids, its standing, its scale) followed by its packed evidence (rows, and the records of voids).
It is filed under its id as an integer in an ordered dictionary that keeps the least recently
used first. What cannot be sealed (evidence kept loose, times outside UTC, once the table of
shared values is full) is kept frozen instead: one tuple of its attribute values after a
layout shared by every pair.

``get`` thaws a new aggregate each time: a batch changes its own copy (and keeps it in
``Batch.touched`` until it is saved), which is what the cache holds only once it is saved. This
is the same contract as eventsourcing's ``LRUCache`` without a deep copy: a failed batch evicts
what it touched, and queries copy. Aggregates of other classes, or with events not yet
collected, are kept as they are. Pure Python, no I/O.
"""

from __future__ import annotations

import struct
import threading
from collections import OrderedDict
from collections.abc import Hashable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.application import Cache

from arc_mastery.numbering import Numbered
from arc_mastery.packed import BYTES_ONLY, PackedEvidence
from arc_mastery.standing import Standing

_ID = "_id"
_PENDING = "_pending_events"
_CREATED = "_created_on"
_MODIFIED = "_modified_on"
_VERSION = "_version"
#: Both times, as microseconds since the epoch, in one bytes object (two datetimes cost 96).
_TIMES = struct.Struct("<qq")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
#: A sealed pair starts with its layout's number, its version and both times (µs); the numbers
#: of its shared values follow.
_SEALED_START = "<HIqq"
_LAYOUT_NUMBER = struct.Struct("<H")
_VERSION_LIMIT = 1 << 32
#: Values shared by many pairs (ids, standings, scales), numbered once each (see
#: ``_sharing_key``). Bounded: beyond it pairs are frozen, not sealed.
_SHARED: Numbered[Any] = Numbered(1 << 18)


class _Layout:
    """How a pair's attributes are kept, shared by every aggregate of one class with the same
    attributes (and the same choice of times and rows): its class, its attribute names in
    order, and the names whose values a frozen tuple holds (not the id, which is the key; nor
    the pending events, empty when an aggregate is frozen; nor the modified time when both times
    are packed into the created time's place, as microseconds, which they are when both are in
    UTC, as eventsourcing stamps them unless told otherwise). A layout that names a rows
    attribute can also seal: its ``header`` holds the version, the times and a number per
    ``shared`` name, and the rows follow it."""

    __slots__ = (
        "aggregate_class",
        "header",
        "kept",
        "names",
        "number",
        "places",
        "rows",
        "rows_class",
        "shared",
        "times_packed",
    )

    def __init__(
        self,
        aggregate_class: type[Any],
        names: tuple[str, ...],
        times_packed: bool,
        rows: str | None,
        rows_class: type[PackedEvidence] | None,
        number: int,
    ) -> None:
        self.aggregate_class = aggregate_class
        self.names = names
        self.times_packed = times_packed
        self.rows = rows
        self.rows_class = rows_class
        self.number = number
        left_out = {_ID, _PENDING, _MODIFIED} if times_packed else {_ID, _PENDING}
        self.kept = tuple(name for name in names if name not in left_out)
        fixed = (_ID, _PENDING, _CREATED, _MODIFIED, _VERSION, rows)
        self.shared = tuple(name for name in names if name not in fixed)
        self.header: struct.Struct | None = None
        self.places: tuple[int, ...] = ()
        if times_packed and rows is not None and _VERSION in names:
            self.header = struct.Struct(_SEALED_START + "I" * len(self.shared))
            # Where each attribute's value is in the list ``thaw`` builds (see ``_thaw_sealed``).
            order = {name: place for place, name in enumerate(fixed + self.shared)}
            self.places = tuple(order[name] for name in names)


_LAYOUTS: Numbered[_Layout] = Numbered(0xFFFF)


def _layout(
    key: tuple[type[Any], tuple[str, ...], bool, str | None, type[PackedEvidence] | None],
) -> _Layout | None:
    number = _LAYOUTS.number(key, lambda number: _Layout(*key, number=number))
    return None if number is None else _LAYOUTS[number]


def _shared_number(value: object) -> int | None:
    return _SHARED.number(_sharing_key(value), lambda _: value)


def _sharing_key(value: object) -> Hashable:
    """Values written the same way share a number, whichever object a pair holds: strings by
    their text, standings by every field as written (3.5 and 3.50 apart; the copies a cleared
    table of shared standings makes again are not new values). Anything else by identity: the
    table keeps the value, so its identity stays its own."""
    kind = type(value)
    if kind is str:
        return value
    if kind is Standing:
        assert isinstance(value, Standing)
        level = value.level
        return (
            Standing,
            str(value.value),
            None if level is None else (str(level.value), level.label),
            value.status,
            value.evidence_count,
            value.explanation,
        )
    return (id, id(value))


class _Frozen(tuple[Any, ...]):
    """(layout, value per name the layout keeps)."""

    __slots__ = ()


class _Sealed(bytes):
    """A layout's header, then the pair's rows."""

    __slots__ = ()


def freeze(aggregate: Any) -> _Sealed | _Frozen | None:
    """``aggregate`` sealed, else as a tuple; None when it has events not yet collected."""
    state = aggregate.__dict__
    if state.get(_PENDING):
        return None
    names = tuple(state)
    created, modified = state.get(_CREATED), state.get(_MODIFIED)
    times_packed = _in_utc(created) and _in_utc(modified)
    rows = next((name for name in names if type(state[name]) in BYTES_ONLY), None)
    rows_class = None if rows is None else type(state[rows])
    layout = _layout((type(aggregate), names, times_packed, rows, rows_class))
    if layout is None:
        return None
    if not times_packed:
        return _Frozen((layout, *(state[name] for name in layout.kept)))
    created_us = (created - _EPOCH) // _MICROSECOND
    modified_us = (modified - _EPOCH) // _MICROSECOND
    if layout.header is not None:
        sealed = _seal(layout, state, created_us, modified_us)
        if sealed is not None:
            return sealed
    times = _TIMES.pack(created_us, modified_us)
    return _Frozen((layout, *(times if n == _CREATED else state[n] for n in layout.kept)))


def _seal(
    layout: _Layout, state: dict[str, Any], created_us: int, modified_us: int
) -> _Sealed | None:
    assert layout.header is not None and layout.rows is not None
    version = state[_VERSION]
    if type(version) is not int or not 0 <= version < _VERSION_LIMIT:
        return None
    numbers = []
    for name in layout.shared:
        number = _shared_number(state[name])
        if number is None:
            return None
        numbers.append(number)
    header = layout.header.pack(layout.number, version, created_us, modified_us, *numbers)
    return _Sealed(header + state[layout.rows])


def _in_utc(value: object) -> bool:
    return isinstance(value, datetime) and value.tzinfo is UTC


def thaw(aggregate_id: UUID, frozen: _Sealed | _Frozen) -> Any:
    if isinstance(frozen, _Sealed):
        return _thaw_sealed(aggregate_id, frozen)
    layout: _Layout = frozen[0]
    aggregate_class: Any = layout.aggregate_class
    aggregate = aggregate_class.__new__(aggregate_class)
    state = aggregate.__dict__
    kept = dict(zip(layout.kept, frozen[1:], strict=True))
    if layout.times_packed:
        created, modified = _TIMES.unpack(kept[_CREATED])
        kept[_CREATED] = _EPOCH + created * _MICROSECOND
        kept[_MODIFIED] = _EPOCH + modified * _MICROSECOND
    kept[_ID] = aggregate_id
    kept[_PENDING] = []
    for name in layout.names:  # in the order the aggregate had them
        state[name] = kept[name]
    return aggregate


def _thaw_sealed(aggregate_id: UUID, sealed: _Sealed) -> Any:
    layout = _LAYOUTS[_LAYOUT_NUMBER.unpack_from(sealed)[0]]
    header = layout.header
    assert header is not None and layout.rows_class is not None
    _, version, created, modified, *numbers = header.unpack_from(sealed)
    # In the order of ``_Layout.__init__``'s ``fixed``, then the shared values.
    values = [
        aggregate_id,
        [],
        _EPOCH + created * _MICROSECOND,
        _EPOCH + modified * _MICROSECOND,
        version,
        layout.rows_class(sealed[header.size :]),
        *(_SHARED[number] for number in numbers),
    ]
    aggregate_class: Any = layout.aggregate_class
    aggregate = aggregate_class.__new__(aggregate_class)
    state = aggregate.__dict__
    for name, place in zip(layout.names, layout.places, strict=True):
        state[name] = values[place]  # in the order the aggregate had them
    return aggregate


class FrozenAggregateCache(Cache[UUID, Any]):
    """Least recently used first, at most ``maxsize`` aggregates; those of ``frozen_classes``
    kept sealed or frozen. Thread-safe: partitions apply in worker threads."""

    def __init__(self, maxsize: int, frozen_classes: tuple[type, ...]) -> None:
        super().__init__()
        self.maxsize = maxsize
        self.frozen_classes = frozen_classes
        # Keyed by the id as an integer: a UUID keeps one, and it costs less than 16 bytes.
        self._entries: OrderedDict[int, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return True  # eventsourcing asks "if cache": an empty one is still there to be filled

    def get(self, key: UUID, *, evict: bool = False) -> Any:
        number = key.int
        with self._lock:
            if evict:
                found = self._entries.pop(number)
            else:
                found = self._entries[number]
                self._entries.move_to_end(number)
        return thaw(key, found) if isinstance(found, _Sealed | _Frozen) else found

    def put(self, key: UUID, value: Any | None) -> None:
        if value is None:
            return
        kept = freeze(value) if isinstance(value, self.frozen_classes) else None
        number = key.int
        with self._lock:
            self._entries[number] = value if kept is None else kept
            self._entries.move_to_end(number)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def aggregate_ids(self) -> list[UUID]:
        with self._lock:
            return [UUID(int=number) for number in self._entries]
