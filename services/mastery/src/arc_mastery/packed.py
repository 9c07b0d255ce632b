"""A pair's evidence kept packed: one bytes object per student-outcome pair instead of an
``Evidence`` object (and its attempt id, its times, ...) per attempt.

A replica keeps every pair it holds in memory, so what one attempt costs there is what the
projection costs: an ``Evidence`` with its id string and recorded-at time took about 250 bytes,
a packed row takes 34. Rows are unpacked into ``Evidence`` values only while a standing is
calculated or explained (a handful per pair, briefly).

A row holds the attempt id as a UUID's 16 bytes, both times as microseconds since the epoch,
and the number of its shape: what many attempts share (the times' UTC offsets, status, score,
weight, tags, kind), numbered in one table of shapes per process. Whatever does not fit that
is kept as its ``Evidence`` unchanged beside the rows ("loose"): an id that is not a UUID
written in its canonical form, a time whose zone is not a fixed offset, a correction (it names
another attempt: rare), and shapes once the table is full. A void keeps the attempt's row and
adds a record after the rows: when, and its reason's number in a table of reasons.
Unpacking gives back an ``Evidence`` equal to the one packed and written the same way (the same
ISO times, the same decimal places); a unit test holds this for any evidence. Pure Python, no
I/O.
"""

from __future__ import annotations

import struct
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any

from arc_mastery.numbering import Numbered
from arc_mastery.standing import Evidence

# attempt id, assessed at and recorded at (µs since the epoch), shape (a number in the table of
# shapes: the two times' UTC offsets, status, score, weight, tags and kind).
_ROW = struct.Struct("<16sqqH")
ROW_SIZE = _ROW.size
_SHAPE = struct.Struct("<H")
_SHAPE_AT = ROW_SIZE - _SHAPE.size
#: The shape number of a row whose evidence is kept loose (its id and times are zeros).
_LOOSE = 0xFFFF
#: Shapes a row can name (the last number means "loose").
TABLE_LIMIT = 0xFFFF

#: A void of an attempt kept in a row: the row's position, when (µs since the epoch, UTC offset
#: in seconds) and its reason's number. The records follow the rows; their count ends the bytes.
_VOID = struct.Struct("<IqiI")
_VOID_COUNT = struct.Struct("<I")
#: Void reasons, numbered (a network writes few distinct ones); beyond the limit, voids are loose.
_REASONS: Numbered[str] = Numbered(0xFFFF)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_ZONES: dict[int, tzinfo] = {0: UTC}

#: What attempts share, numbered: (assessed offset s, recorded offset s, status, score, weight,
#: tags, kind). A network has few scales, statuses, weights, tags and kinds, so few shapes.
#: Decimals are told apart by how they are written (3 and 3.0 stay apart); the rest by equality
#: within their type.
_SHAPES: Numbered[tuple[Any, ...]] = Numbered(TABLE_LIMIT)


def _key(value: object) -> tuple[type, object]:
    return type(value), str(value) if isinstance(value, Decimal) else value


def _number(shape: tuple[Any, ...]) -> int | None:
    key = tuple(_key(value) for value in shape)
    try:
        return _SHAPES.number(key, lambda _: shape)
    except TypeError:  # unhashable: kept loose
        return None


def _instant(value: datetime) -> tuple[int, int] | None:
    """Microseconds since the epoch and the UTC offset in seconds, for a time in a fixed-offset
    zone (the only kind events carry); None for anything else."""
    zone = value.tzinfo
    offset = value.utcoffset()
    if zone is None or offset is None or zone.utcoffset(None) != offset or value.fold:
        return None
    if offset % timedelta(seconds=1):
        return None
    return (value - _EPOCH) // _MICROSECOND, int(offset.total_seconds())


def _time(micros: int, offset: int) -> datetime:
    if not offset:
        return _EPOCH + micros * _MICROSECOND
    zone = _ZONES.get(offset)
    if zone is None:
        zone = _ZONES.setdefault(offset, timezone(timedelta(seconds=offset)))
    return (_EPOCH + micros * _MICROSECOND).astimezone(zone)


def _uuid_bytes(attempt_id: str) -> bytes | None:
    """The id's 16 bytes when it is a UUID written canonically (lower-case, with dashes)."""
    if len(attempt_id) != 36:
        return None
    try:
        raw = bytes.fromhex(attempt_id.replace("-", ""))
    except ValueError:
        return None
    # Written back, it must be the same text (dashes in place, lower case, no spaces).
    return raw if len(raw) == 16 and _uuid_text(raw) == attempt_id else None


def _uuid_text(raw: bytes) -> str:
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def pack(item: Evidence) -> bytes | None:
    """The row for ``item``, or None when it must be kept loose."""
    if item.supersedes is not None or item.voided_at is not None or item.void_reason is not None:
        return None
    raw_id = _uuid_bytes(item.attempt_id)
    assessed = _instant(item.assessed_at)
    recorded = _instant(item.recorded_at)
    if raw_id is None or assessed is None or recorded is None:
        return None
    shape = _number(
        (assessed[1], recorded[1], item.status, item.score, item.weight, item.tags, item.kind)
    )
    if shape is None:
        return None
    return _ROW.pack(raw_id, assessed[0], recorded[0], shape)


def _pack_voided(item: Evidence) -> tuple[bytes, tuple[int, int, int]] | None:
    """The row of the attempt ``item`` voids and the void's record (without its position), or
    None when it must be kept loose."""
    if item.supersedes is not None or item.voided_at is None or type(item.void_reason) is not str:
        return None
    row = pack(replace(item, voided_at=None, void_reason=None))
    voided = _instant(item.voided_at)
    if row is None or voided is None:
        return None
    reason_text = item.void_reason
    reason = _REASONS.number(reason_text, lambda _: reason_text)
    if reason is None:
        return None
    return row, (voided[0], voided[1], reason)


_LOOSE_ROW = _ROW.pack(bytes(16), 0, 0, _LOOSE)


def _unpack(row: tuple[Any, ...], void: tuple[int, int, int] | None = None) -> Evidence:
    raw_id, assessed, recorded, shape = row
    assessed_offset, recorded_offset, status, score, weight, tags, kind = _SHAPES[shape]
    voided_at, void_reason = None, None
    if void is not None:
        voided, voided_offset, reason = void
        voided_at, void_reason = _time(voided, voided_offset), _REASONS[reason]
    return Evidence(
        _uuid_text(raw_id),
        status,
        score,
        _time(assessed, assessed_offset),
        _time(recorded, recorded_offset),
        weight,
        tags,
        kind,
        None,
        voided_at,
        void_reason,
    )


class PackedEvidence(bytes):
    """A pair's evidence in arrival order: its rows, and nothing else (a bytes object, so that
    each pair holds one object and no wrapper around it). Immutable: ``with_item`` returns a
    new one (an aggregate replaces its value; a copy of it can share this one). Voids are in a
    subclass whose bytes also hold their records; evidence kept loose is in a subclass's
    dictionary, by position (and its voids are loose too: one kind of extra per class). A pair
    without either (the usual case) has no dictionary."""

    __slots__ = ()
    _loose: dict[int, Evidence] | None = None

    def __len__(self) -> int:
        return bytes.__len__(self) // ROW_SIZE

    def __deepcopy__(self, memo: dict[int, Any]) -> PackedEvidence:
        return self  # immutable

    def _rows(self) -> bytes | memoryview:
        return self

    def _voids(self) -> dict[int, tuple[int, int, int]]:
        """Position → (voided µs, its UTC offset s, reason number)."""
        return {}

    def items(self) -> tuple[Evidence, ...]:
        loose = self._loose or {}
        voids = self._voids()
        return tuple(
            loose[position] if row[3] == _LOOSE else _unpack(row, voids.get(position))
            for position, row in enumerate(_ROW.iter_unpack(self._rows()))
        )

    def position(self, attempt_id: str) -> int | None:
        """Where the attempt's evidence is, or None."""
        if self._loose:
            for position, item in self._loose.items():
                if item.attempt_id == attempt_id:
                    return position
        raw_id = _uuid_bytes(attempt_id)
        if raw_id is None:
            return None
        end = len(self) * ROW_SIZE  # the records of voids follow the rows: not searched
        start = self.find(raw_id, 0, end)
        while start != -1:
            # An id starts its row; a match elsewhere is a coincidence in another field (or a
            # loose row's zeros, which the nil UUID also is).
            if not start % ROW_SIZE and _SHAPE.unpack_from(self, start + _SHAPE_AT)[0] != _LOOSE:
                return start // ROW_SIZE
            start = self.find(raw_id, start + 1, end)
        return None

    def item(self, position: int) -> Evidence:
        if self._loose and position in self._loose:
            return self._loose[position]
        if not 0 <= position < len(self):
            raise IndexError(position)
        return _unpack(_ROW.unpack_from(self, position * ROW_SIZE), self._voids().get(position))

    def with_item(self, item: Evidence, position: int | None = None) -> PackedEvidence:
        """Add ``item`` at the end, or put it in ``position``'s place."""
        at = len(self) if position is None else position
        loose = dict(self._loose) if self._loose else {}
        voids = self._voids()
        loose.pop(at, None)
        voids.pop(at, None)
        row = pack(item)
        if row is None:
            voided = _pack_voided(item)
            if voided is not None:
                row, voids[at] = voided
        if row is None:
            row = _LOOSE_ROW
            loose[at] = item
        start = at * ROW_SIZE
        rows = self._rows()
        return _packed(bytes(rows[:start]) + row + bytes(rows[start + ROW_SIZE :]), voids, loose)


def _packed(
    rows: bytes, voids: dict[int, tuple[int, int, int]], loose: dict[int, Evidence]
) -> PackedEvidence:
    if loose:
        for position, void in voids.items():  # loose too, in this class
            at = position * ROW_SIZE
            loose[position] = _unpack(_ROW.unpack_from(rows, at), void)
            rows = rows[:at] + _LOOSE_ROW + rows[at + ROW_SIZE :]
        found = _PackedWithLoose(rows)
        found._loose = loose
        return found
    if voids:
        records = b"".join(_VOID.pack(at, *void) for at, void in sorted(voids.items()))
        return _PackedWithVoids(rows + records + _VOID_COUNT.pack(len(voids)))
    return PackedEvidence(rows)


class _PackedWithVoids(PackedEvidence):
    """Rows, then a record per void, then how many records there are."""

    __slots__ = ()

    def _rows_end(self) -> int:
        size = bytes.__len__(self)
        count: int = _VOID_COUNT.unpack_from(self, size - _VOID_COUNT.size)[0]
        return size - _VOID_COUNT.size - count * _VOID.size

    def __len__(self) -> int:
        return self._rows_end() // ROW_SIZE

    def _rows(self) -> memoryview:
        return memoryview(self)[: self._rows_end()]

    def _voids(self) -> dict[int, tuple[int, int, int]]:
        records = memoryview(self)[self._rows_end() : -_VOID_COUNT.size]
        return {
            at: (voided, offset, reason)
            for at, voided, offset, reason in _VOID.iter_unpack(records)
        }


#: The classes whose value is their bytes alone (no dictionary): what a cache can keep as bytes.
BYTES_ONLY: tuple[type[PackedEvidence], ...] = (PackedEvidence, _PackedWithVoids)


class _PackedWithLoose(PackedEvidence):
    """Rows, and the evidence kept loose beside them (in the instance's dictionary: a subclass
    of bytes may have one, not slots). Equal only with the same loose evidence: a loose row's
    bytes are zeros whatever it keeps."""

    def __eq__(self, other: object) -> bool:
        return bytes.__eq__(self, other) is True and self._loose == getattr(other, "_loose", None)

    def __ne__(self, other: object) -> bool:  # bytes has its own, which knows nothing of this
        return not self == other

    __hash__ = bytes.__hash__
