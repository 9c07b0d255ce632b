"""Reporting's read model, built only from events: every catalog revision, every attempt and
void, every published mastery change. Effects and stream position commit in one transaction
(``TrackedView``), so a replay after a crash neither loses nor doubles anything.

Nothing is resolved while applying (a mastery change may arrive before the outcome it is
about): views join on read, as of the moment asked for.

Personal fields arrive sealed (``arc_platform.erasure``) and are kept opened here. When a
student is forgotten (``student_forgotten``), their names become "[removed]" and the comments
and void reasons about them are dropped, on that event and whenever anything about them arrives
later (or again, in a rebuild, when their sealed fields no longer open anyway).
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from arc_contracts import (
    REMOVED,
    AttemptRecordedV1,
    AttemptVoidedV1,
    ContractEvent,
    Envelope,
    MasteryChangedV1,
    PersonDefinedV1,
    StudentForgottenV1,
    stream_name,
)
from arc_platform.consumer import Delivery, apply_in_order
from arc_platform.erasure import PersonalData
from arc_platform.views import TrackedView, dialect_insert
from arc_reporting.domain.asof import utc
from arc_reporting.domain.catalog import Catalog, Entry, build_catalog, identity
from arc_reporting.domain.records import Attempt, Change, Standing
from arc_reporting.tables import (
    attempts,
    catalog_entries,
    current_standings,
    forgotten_students,
    mastery_changes,
    metadata,
    voids,
)

log = logging.getLogger(__name__)

#: Bump when the tables change: an outdated read model is dropped and rebuilt from the bus.
SCHEMA_VERSION = 4
_version = sa.Table("read_model_version", metadata, sa.Column("version", sa.Integer))
_OLD_TABLES = {"outcomes", "level_changes", "view_tracking"}
CHUNK = 500


def reset_if_outdated(engine: Engine) -> None:
    names = set(sa.inspect(engine).get_table_names())
    ours = (set(metadata.tables) | _OLD_TABLES) & names
    if not ours:
        return
    with engine.begin() as conn:
        found = None
        if "read_model_version" in names:
            found = conn.execute(sa.select(_version.c.version)).scalar()
        if found == SCHEMA_VERSION:
            return
        log.warning(
            "reporting read model is at version %s, not %s: rebuilding", found, SCHEMA_VERSION
        )
        for name in ours:
            conn.execute(sa.text(f'DROP TABLE IF EXISTS "{name}"'))


class ReportingReadModel:
    def __init__(
        self, engine: Engine, personal: PersonalData | None = None, replaying: bool = False
    ) -> None:
        #: Opens sealed personal fields (None: kept as they arrive, e.g. sample data).
        self.personal = personal
        #: A rebuild's model: batches are traced as a whole, not message by message.
        self.replaying = replaying
        reset_if_outdated(engine)
        self.view = TrackedView(engine, metadata)
        with engine.begin() as conn:
            if conn.execute(sa.select(_version.c.version)).first() is None:
                conn.execute(sa.insert(_version).values(version=SCHEMA_VERSION))
        self._catalogs: OrderedDict[tuple[int, datetime | None], Catalog] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        return self.view.engine

    def position(self, stream: str) -> int:
        return self.view.position(stream)

    # --- applying --------------------------------------------------------------------------

    def apply(self, batch: list[Delivery]) -> None:
        with self.view.advancing(batch[0].tracking_name, batch[-1].sequence) as conn:
            written = _Batch(conn, _forgotten_among(conn, _people_named(batch)))

            def apply(event: ContractEvent, envelope: Envelope, delivery: Delivery) -> None:
                self._apply(written, delivery.sequence, envelope.time, event)

            apply_in_order(batch, apply, replaying=self.replaying)
            written.flush()

    def _apply(self, written: _Batch, sequence: int, time: datetime, event: ContractEvent) -> None:
        if isinstance(event, AttemptRecordedV1):
            row = _attempt_row(event)
            row["comment"] = self._opened(written, event.student_id, event.comment)
            written.add(attempts, row)
        elif isinstance(event, AttemptVoidedV1):
            written.add(
                voids,
                {
                    "attempt_id": event.attempt_id,
                    "student_id": event.student_id,
                    "reason": self._opened(written, event.student_id, event.reason) or REMOVED,
                    "voided_by": event.voided_by,
                    "voided_at": utc(event.voided_at),
                },
            )
        elif isinstance(event, MasteryChangedV1):
            row = _change_row(sequence, event)
            written.add(mastery_changes, row)
            written.standing_changed(row)
        elif isinstance(event, StudentForgottenV1):
            written.flush()  # what follows changes rows written before it
            self._forget(written, event.student_id)
        elif event.context == "catalog":
            self._add_catalog_entry(written, time, event)

    # --- the right to erasure ----------------------------------------------------------------

    def _opened(self, written: _Batch, person_id: str, text: str | None) -> str | None:
        """``text`` readable, or None once its person is forgotten."""
        if text is None or person_id in written.forgotten:
            return None
        opened = self.personal.open(text) if self.personal else text
        return None if opened == REMOVED else opened

    def _person_opened(self, written: _Batch, event: PersonDefinedV1) -> PersonDefinedV1:
        names = {"given_name": event.given_name, "family_name": event.family_name}
        opened = {k: self._opened(written, event.person_id, v) or REMOVED for k, v in names.items()}
        return event.model_copy(update=opened)

    def _forget(self, written: _Batch, student_id: str) -> None:
        """The student's names become "[removed]"; what was written about them is dropped."""
        conn = written.conn
        if self.personal is not None:
            self.personal.evict(student_id)
        if student_id not in written.forgotten:
            conn.execute(sa.insert(forgotten_students).values(student_id=student_id))
            written.forgotten.add(student_id)
        conn.execute(
            sa.update(attempts).where(attempts.c.student_id == student_id).values(comment=None)
        )
        conn.execute(
            sa.update(voids).where(voids.c.student_id == student_id).values(reason=REMOVED)
        )
        person = (catalog_entries.c.subject == PersonDefinedV1.subject()) & (
            catalog_entries.c.entity_id == student_id
        )
        for revision, body in conn.execute(
            sa.select(catalog_entries.c.revision, catalog_entries.c.body).where(person)
        ).all():
            removed = PersonDefinedV1.model_validate_json(body).model_copy(
                update={"given_name": REMOVED, "family_name": REMOVED}
            )
            conn.execute(
                sa.update(catalog_entries)
                .where(person & (catalog_entries.c.revision == revision))
                .values(body=removed.model_dump_json())
            )

    def _add_catalog_entry(self, written: _Batch, time: datetime, event: ContractEvent) -> None:
        if isinstance(event, PersonDefinedV1):
            event = self._person_opened(written, event)
        found = identity(event)
        if found is None:
            return
        entity_id, revision = found
        written.add_catalog_entry(
            {
                "subject": event.subject(),
                "entity_id": entity_id,
                "revision": revision,
                "known_at": utc(time),
                "body": event.model_dump_json(),
            }
        )

    # --- reading ---------------------------------------------------------------------------

    def catalog(self, as_of: datetime | None = None) -> Catalog:
        """The catalog as known at ``as_of`` (cached until the next catalog event)."""
        key = (self.position(stream_name("catalog")), as_of)
        with self._lock:
            if key in self._catalogs:
                self._catalogs.move_to_end(key)
                return self._catalogs[key]
        query = sa.select(catalog_entries)
        if as_of is not None:
            query = query.where(catalog_entries.c.known_at <= as_of)
        with self.engine.connect() as conn:
            entries = [
                Entry(r.subject, r.entity_id, r.revision, utc(r.known_at), r.body)
                for r in conn.execute(query).all()
            ]
        built = build_catalog(entries, as_of)
        with self._lock:
            self._catalogs[key] = built
            while len(self._catalogs) > 16:
                self._catalogs.popitem(last=False)
        return built

    def attempts_of(
        self,
        students: Collection[str],
        outcomes: Collection[str] | None = None,
        as_of: datetime | None = None,
    ) -> list[Attempt]:
        """Attempts recorded by ``as_of`` (with their void, if any, whenever made)."""
        found: list[Attempt] = []
        joined = attempts.outerjoin(voids, voids.c.attempt_id == attempts.c.attempt_id)
        for chunk in _chunks(students):
            query = sa.select(*_ATTEMPT_COLUMNS).select_from(joined)
            query = query.where(attempts.c.student_id.in_(chunk))
            if outcomes is not None:
                query = query.where(attempts.c.outcome_id.in_(list(outcomes)))
            if as_of is not None:
                query = query.where(attempts.c.recorded_at <= as_of)
            with self.engine.connect() as conn:
                found.extend(_attempt(row) for row in conn.execute(query).all())
        return found

    def changes_of(
        self,
        students: Collection[str],
        outcomes: Collection[str] | None = None,
        as_of: datetime | None = None,
    ) -> list[Change]:
        """Mastery changes published by ``as_of``, in the order they were published."""
        rows = self._change_rows(_CHANGE_COLUMNS, students, outcomes, as_of)
        return sorted((_change(row) for row in rows), key=lambda c: c.sequence)

    def standings_of(
        self,
        students: Collection[str],
        outcomes: Collection[str] | None = None,
        as_of: datetime | None = None,
    ) -> dict[tuple[str, str], Standing]:
        """What ``standings_at(changes_of(...), as_of)`` gives, reading only what a standing
        needs and making no ``Change`` per row: for views that show standings alone (a heat
        map). Now (no ``as_of``) it is the pair's row in ``current_standings``; as of a moment,
        the newest change per pair by then is picked here (a window function in SQL was
        slower)."""
        if as_of is None:
            return {
                (row[0], row[1]): _standing(row) for row in self._current_rows(students, outcomes)
            }
        newest: dict[tuple[str, str], Any] = {}
        for row in self._change_rows(_STANDING_COLUMNS, students, outcomes, as_of):
            pair = (row[0], row[1])
            kept = newest.get(pair)
            # Newest by (changed at, stream sequence), as ``standing_at`` orders them.
            if kept is None or (row[-1], row[-2]) > (kept[-1], kept[-2]):
                newest[pair] = row
        return {pair: _standing(row) for pair, row in newest.items()}

    def _current_rows(
        self, students: Collection[str], outcomes: Collection[str] | None
    ) -> Iterator[Any]:
        return self._pair_rows(current_standings, _CURRENT_COLUMNS, students, outcomes, None)

    def _change_rows(
        self,
        columns: Sequence[Any],
        students: Collection[str],
        outcomes: Collection[str] | None,
        as_of: datetime | None,
    ) -> Iterator[Any]:
        """``columns`` of the mastery changes of ``students`` (and ``outcomes``) by ``as_of``."""
        return self._pair_rows(mastery_changes, columns, students, outcomes, as_of)

    def _pair_rows(
        self,
        table: sa.Table,
        columns: Sequence[Any],
        students: Collection[str],
        outcomes: Collection[str] | None,
        as_of: datetime | None,
    ) -> Iterator[Any]:
        for chunk in _chunks(students):
            query = sa.select(*columns).where(table.c.student_id.in_(chunk))
            if outcomes is not None:
                query = query.where(table.c.outcome_id.in_(list(outcomes)))
            if as_of is not None:
                query = query.where(table.c.changed_at <= as_of)
            with self.engine.connect() as conn:
                yield from conn.execute(query).all()

    def students_with_evidence(self) -> list[str]:
        with self.engine.connect() as conn:
            return sorted(
                {r[0] for r in conn.execute(sa.select(attempts.c.student_id).distinct())}
                | {r[0] for r in conn.execute(sa.select(mastery_changes.c.student_id).distinct())}
            )

    def content(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every content table in a stable order (to compare with a rebuild)."""
        from arc_reporting.tables import CONTENT

        result: dict[str, list[tuple[Any, ...]]] = {}
        with self.engine.connect() as conn:
            for name, order in CONTENT.items():
                table = metadata.tables[name]
                rows = conn.execute(sa.select(table).order_by(*(table.c[c] for c in order)))
                result[name] = [tuple(_comparable(v) for v in row) for row in rows]
        return result


def _people_named(batch: list[Delivery]) -> set[str]:
    """Everyone whose sealed fields the batch may open, or whom it forgets."""
    found = set()
    for delivery in batch:
        event = delivery.event
        if isinstance(event, AttemptRecordedV1):
            if event.comment is not None:
                found.add(event.student_id)
        elif isinstance(event, AttemptVoidedV1 | StudentForgottenV1):
            found.add(event.student_id)
        elif isinstance(event, PersonDefinedV1):
            found.add(event.person_id)
    return found


def _forgotten_among(conn: sa.Connection, people: Collection[str]) -> set[str]:
    """Who of ``people`` is forgotten: asked once per batch, not once per sealed field."""
    found: set[str] = set()
    for chunk in _chunks(people):
        query = sa.select(forgotten_students.c.student_id).where(
            forgotten_students.c.student_id.in_(chunk)
        )
        found.update(conn.execute(query).scalars())
    return found


def _chunks(items: Collection[str]) -> Iterator[list[str]]:
    ordered = sorted(set(items))
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]


def _comparable(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc(value).isoformat()
    if isinstance(value, Decimal):
        return value.normalize()
    return value


def _attempt_row(event: AttemptRecordedV1) -> dict[str, Any]:
    return {
        "attempt_id": event.attempt_id,
        "student_id": event.student_id,
        "outcome_id": event.outcome_id,
        "status": event.status,
        "score": event.score,
        "assessed_at": utc(event.assessed_at),
        "recorded_at": utc(event.recorded_at),
        "recorded_by": event.recorded_by,
        "assessment_ref": event.assessment_ref,
        "assessment_kind": event.assessment_kind,
        "weight": event.weight,
        "tags": json.dumps(list(event.tags)),
        "supersedes": event.supersedes,
        "comment": event.comment,
    }


def _change_row(sequence: int, event: MasteryChangedV1) -> dict[str, Any]:
    return {
        "stream_sequence": sequence,
        "student_id": event.student_id,
        "outcome_id": event.outcome_id,
        "before_value": event.before.value,
        "before_level": event.before.level,
        "before_status": event.before.status,
        "value": event.after.value,
        "level": event.after.level,
        "label": event.after.level_label,
        "status": event.after.status,
        "evidence_count": event.after.evidence_count,
        "method": event.method,
        "cause_kind": event.cause.kind,
        "cause_attempt_id": event.cause.attempt_id,
        "assessed_at": utc(event.assessed_at) if event.assessed_at else None,
        "changed_at": utc(event.changed_at),
    }


def _decimal(value: Any) -> Decimal | None:
    # Numeric columns already come back as Decimal (SQLite through SQLAlchemy, PostgreSQL).
    return value if value is None or type(value) is Decimal else Decimal(value)


def _when(value: datetime | None) -> datetime | None:
    return utc(value) if value else None


#: The columns ``_attempt`` unpacks, in its order: rows are read by position, not by name,
#: because looking up 16 names per row cost more than the rest of loading a page's rows.
_ATTEMPT_COLUMNS = (
    *(
        attempts.c[name]
        for name in (
            "attempt_id",
            "student_id",
            "outcome_id",
            "status",
            "score",
            "assessed_at",
            "recorded_at",
            "recorded_by",
            "assessment_ref",
            "assessment_kind",
            "weight",
            "tags",
            "supersedes",
            "comment",
        )
    ),
    voids.c.voided_at,
    voids.c.reason,
)


def _attempt(row: Sequence[Any]) -> Attempt:
    (
        attempt_id,
        student_id,
        outcome_id,
        status,
        score,
        assessed_at,
        recorded_at,
        recorded_by,
        assessment_ref,
        assessment_kind,
        weight,
        tags,
        supersedes,
        comment,
        voided_at,
        void_reason,
    ) = row
    return Attempt(
        attempt_id,
        student_id,
        outcome_id,
        status,
        _decimal(score),
        utc(assessed_at),
        utc(recorded_at),
        recorded_by,
        assessment_ref,
        assessment_kind,
        Decimal(weight),
        tuple(json.loads(tags)),
        supersedes,
        comment,
        _when(voided_at),
        void_reason,
    )


#: The columns ``_change`` unpacks, in its order (read by position, as for attempts).
_CHANGE_COLUMNS = tuple(
    mastery_changes.c[name]
    for name in (
        "student_id",
        "outcome_id",
        "stream_sequence",
        "before_value",
        "before_level",
        "before_status",
        "value",
        "level",
        "label",
        "status",
        "evidence_count",
        "method",
        "cause_kind",
        "cause_attempt_id",
        "assessed_at",
        "changed_at",
    )
)


def _change(row: Sequence[Any]) -> Change:
    (
        student_id,
        outcome_id,
        sequence,
        before_value,
        before_level,
        before_status,
        value,
        level,
        label,
        status,
        evidence_count,
        method,
        cause_kind,
        cause_attempt_id,
        assessed_at,
        changed_at,
    ) = row
    return Change(
        student_id,
        outcome_id,
        int(sequence),
        _decimal(before_value),
        _decimal(before_level),
        before_status,
        _decimal(value),
        _decimal(level),
        label,
        status,
        int(evidence_count),
        method,
        cause_kind,
        cause_attempt_id,
        _when(assessed_at),
        utc(changed_at),
    )


#: The columns ``_standing`` unpacks, in its order (``standings_of`` compares the last two).
_STANDING_COLUMNS = tuple(
    mastery_changes.c[name]
    for name in (
        "student_id",
        "outcome_id",
        "status",
        "value",
        "level",
        "label",
        "evidence_count",
        "method",
        "stream_sequence",
        "changed_at",
    )
)


#: The same columns of ``current_standings``.
_CURRENT_COLUMNS = tuple(current_standings.c[column.name] for column in _STANDING_COLUMNS)


def _standing(row: Sequence[Any]) -> Standing:
    """As ``standing_of(_change(row))`` gives it."""
    _, _, status, value, level, label, evidence_count, method, _, changed_at = row
    return Standing(
        status,
        _decimal(value),
        _decimal(level),
        label,
        int(evidence_count),
        method,
        utc(changed_at),
    )


class _Batch:
    """What one batch writes, in one transaction: rows per table, written table by table with
    one statement each (executemany), in arrival order within each table, before anything that
    changes them (``flush``); catalog entries likewise, each unless that revision is stored
    already; and who among the people the batch names is forgotten (kept up to date by it)."""

    def __init__(self, conn: sa.Connection, forgotten: set[str]) -> None:
        self.conn = conn
        self.forgotten = forgotten
        self._rows: dict[sa.Table, list[dict[str, Any]]] = {}
        self._entries: dict[tuple[str, str, int], dict[str, Any]] = {}
        #: The newest change row per pair in this batch (for ``current_standings``).
        self._newest: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, table: sa.Table, row: dict[str, Any]) -> None:
        self._rows.setdefault(table, []).append(row)

    def standing_changed(self, change: dict[str, Any]) -> None:
        pair = (change["student_id"], change["outcome_id"])
        kept = self._newest.get(pair)
        if kept is None or _newness(change) > _newness(kept):
            self._newest[pair] = change

    def add_catalog_entry(self, row: dict[str, Any]) -> None:
        # The first of a revision wins, within the batch as against what is stored.
        self._entries.setdefault((row["subject"], row["entity_id"], row["revision"]), row)

    def flush(self) -> None:
        if self._entries:
            self._write_new_entries()
        for table, rows in self._rows.items():
            self.conn.execute(sa.insert(table), rows)
        self._rows.clear()
        if self._newest:
            self._write_current_standings()

    def _write_current_standings(self) -> None:
        """Each pair's newest change of the batch, in place of the stored one only if newer
        (changes of a pair may be published out of their ``changed_at`` order)."""
        rows = [{name: row[name] for name in _CURRENT_NAMES} for row in self._newest.values()]
        self.conn.execute(_newer_standings_upsert(self.conn.dialect.name), rows)
        self._newest.clear()

    def _write_new_entries(self) -> None:
        stored: set[tuple[str, str, int]] = set()
        columns = (
            catalog_entries.c.subject,
            catalog_entries.c.entity_id,
            catalog_entries.c.revision,
        )
        for chunk in _chunks({entity_id for _, entity_id, _ in self._entries}):
            query = sa.select(*columns).where(catalog_entries.c.entity_id.in_(chunk))
            stored.update((s, e, int(r)) for s, e, r in self.conn.execute(query))
        new = [row for key, row in self._entries.items() if key not in stored]
        if new:
            self.conn.execute(sa.insert(catalog_entries), new)
        self._entries.clear()


_CURRENT_NAMES = tuple(column.name for column in current_standings.columns)
_CURRENT_VALUES = tuple(
    column.name for column in current_standings.columns if not column.primary_key
)


def _newness(change: dict[str, Any]) -> tuple[datetime, int]:
    """Which of two changes of a pair is the newer (as ``standing_at`` orders them)."""
    return change["changed_at"], change["stream_sequence"]


@functools.cache
def _newer_standings_upsert(dialect: str) -> Any:
    """``current_standings`` upsert that keeps the newer of stored and arriving, built once
    per dialect (building it cost more than running it for a live batch of one change)."""
    insert = dialect_insert(dialect, current_standings)
    stored = (current_standings.c.changed_at, current_standings.c.stream_sequence)
    arriving = (insert.excluded.changed_at, insert.excluded.stream_sequence)
    return insert.on_conflict_do_update(
        index_elements=[current_standings.c.student_id, current_standings.c.outcome_id],
        set_={name: insert.excluded[name] for name in _CURRENT_VALUES},
        where=sa.tuple_(*arriving) > sa.tuple_(*stored),
    )
