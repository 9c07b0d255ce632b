"""The replica's aggregate cache, with pairs kept frozen between batches.

A replica keeps every student-outcome pair it holds in memory between batches, so what a pair
costs there is what the projection costs. As a live aggregate, a pair also carries what only a
batch needs: an object with its attribute dictionary, an empty list of pending events, its id as
a ``UUID`` object, and eventsourcing's cache link (a four-item list). Frozen, it is one tuple of
its attribute values, filed under its id's 16 bytes in an ordered dictionary that keeps the
least recently used first.

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
from collections.abc import Iterable
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

#: One tuple of attribute names per shape of aggregate, shared by every frozen pair of it.
_NAMES: dict[tuple[str, ...], tuple[str, ...]] = {}


class _Frozen(tuple[Any, ...]):
    """(class, attribute names, value per name). Left out (None): the id, which is the key;
    pending events, empty when an aggregate is frozen; and the modified time, kept with the
    created time as microseconds in the created time's place, when both are in UTC (eventsourcing
    stamps events in UTC unless told otherwise)."""

    __slots__ = ()


def freeze(aggregate: Any) -> _Frozen | None:
    """``aggregate`` as a tuple, or None when it has events not yet collected."""
    state = aggregate.__dict__
    if state.get(_PENDING):
        return None
    names = tuple(state)
    names = _NAMES.setdefault(names, names)
    values = [None if n in (_ID, _PENDING) else state[n] for n in names]
    created, modified = state.get(_CREATED), state.get(_MODIFIED)
    if _in_utc(created) and _in_utc(modified):
        at = names.index(_CREATED)
        values[at] = _TIMES.pack(
            (created - _EPOCH) // _MICROSECOND, (modified - _EPOCH) // _MICROSECOND
        )
        values[names.index(_MODIFIED)] = None
    return _Frozen((type(aggregate), names, *values))


def _in_utc(value: object) -> bool:
    return isinstance(value, datetime) and value.tzinfo is UTC


def thaw(aggregate_id: UUID, frozen: _Frozen) -> Any:
    aggregate_class, names = frozen[0], frozen[1]
    aggregate = aggregate_class.__new__(aggregate_class)
    state = aggregate.__dict__
    state.update(zip(names, frozen[2:], strict=True))
    state[_ID] = aggregate_id
    state[_PENDING] = []
    times = state.get(_CREATED)
    if isinstance(times, bytes):
        created, modified = _TIMES.unpack(times)
        state[_CREATED] = _EPOCH + created * _MICROSECOND
        state[_MODIFIED] = _EPOCH + modified * _MICROSECOND
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

    def size(self) -> int:
        return len(self._entries)

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

    def evict(self, aggregate_ids: Iterable[UUID]) -> None:
        with self._lock:
            for aggregate_id in aggregate_ids:
                self._entries.pop(aggregate_id.bytes, None)
