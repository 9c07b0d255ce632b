"""The replica's aggregate cache, with pairs kept frozen between batches.

A replica keeps every student-outcome pair it holds in memory between batches, so what a pair
costs there is what the projection costs. As a live aggregate, a pair also carries what only a
batch needs: an object with its attribute dictionary, an empty list of pending events, its id as
a ``UUID`` object, and eventsourcing's cache link (a four-item list). Frozen, it is one tuple of
its attribute values (after a layout shared by every pair), filed under its id's 16 bytes in an
ordered dictionary that keeps the least recently used first.

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
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.application import Cache

_ID = "_id"
_PENDING = "_pending_events"
_CREATED = "_created_on"
_MODIFIED = "_modified_on"
#: Both times, as microseconds since the epoch, in one bytes object (two datetimes cost 96).
_TIMES = struct.Struct("<qq")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class _Layout:
    """What a frozen aggregate's tuple holds, shared by every aggregate of one class with the
    same attributes: its class, its attribute names in order, and the names whose values the
    tuple holds (not the id, which is the key; nor the pending events, empty when an aggregate
    is frozen; nor the modified time when both times are packed into the created time's place,
    as microseconds, which they are when both are in UTC, as eventsourcing stamps them unless
    told otherwise)."""

    __slots__ = ("aggregate_class", "kept", "names", "times_packed")

    def __init__(
        self, aggregate_class: type[Any], names: tuple[str, ...], times_packed: bool
    ) -> None:
        self.aggregate_class = aggregate_class
        self.names = names
        self.times_packed = times_packed
        left_out = {_ID, _PENDING, _MODIFIED} if times_packed else {_ID, _PENDING}
        self.kept = tuple(name for name in names if name not in left_out)


_LAYOUTS: dict[tuple[type[Any], tuple[str, ...], bool], _Layout] = {}


class _Frozen(tuple[Any, ...]):
    """(layout, value per name the layout keeps)."""

    __slots__ = ()


def freeze(aggregate: Any) -> _Frozen | None:
    """``aggregate`` as a tuple, or None when it has events not yet collected."""
    state = aggregate.__dict__
    if state.get(_PENDING):
        return None
    names = tuple(state)
    created, modified = state.get(_CREATED), state.get(_MODIFIED)
    times_packed = _in_utc(created) and _in_utc(modified)
    key = (type(aggregate), names, times_packed)
    layout = _LAYOUTS.get(key)
    if layout is None:
        layout = _LAYOUTS.setdefault(key, _Layout(*key))
    if not times_packed:
        return _Frozen((layout, *(state[name] for name in layout.kept)))
    times = _TIMES.pack((created - _EPOCH) // _MICROSECOND, (modified - _EPOCH) // _MICROSECOND)
    return _Frozen((layout, *(times if n == _CREATED else state[n] for n in layout.kept)))


def _in_utc(value: object) -> bool:
    return isinstance(value, datetime) and value.tzinfo is UTC


def thaw(aggregate_id: UUID, frozen: _Frozen) -> Any:
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


class FrozenAggregateCache(Cache[UUID, Any]):
    """Least recently used first, at most ``maxsize`` aggregates; those of ``frozen_classes``
    kept frozen. Thread-safe: partitions apply in worker threads."""

    def __init__(self, maxsize: int, frozen_classes: tuple[type, ...]) -> None:
        super().__init__()
        self.maxsize = maxsize
        self.frozen_classes = frozen_classes
        self._entries: OrderedDict[bytes, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return True  # eventsourcing asks "if cache": an empty one is still there to be filled

    def get(self, key: UUID, *, evict: bool = False) -> Any:
        raw = key.bytes
        with self._lock:
            if evict:
                found = self._entries.pop(raw)
            else:
                found = self._entries[raw]
                self._entries.move_to_end(raw)
        return thaw(key, found) if isinstance(found, _Frozen) else found

    def put(self, key: UUID, value: Any | None) -> None:
        if value is None:
            return
        kept = freeze(value) if isinstance(value, self.frozen_classes) else None
        raw = key.bytes
        with self._lock:
            self._entries[raw] = value if kept is None else kept
            self._entries.move_to_end(raw)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def aggregate_ids(self) -> list[UUID]:
        with self._lock:
            return [UUID(bytes=raw) for raw in self._entries]
