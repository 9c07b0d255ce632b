"""The catalog's own index: the current version of every entry, in SQL, with the links between
entries (outcome → scale, section → student…), for listing and for finding what a change
affects. Built only from the catalog's stored events, with the position it reached kept in the
same transaction (``arc_platform.views.TrackedView``); it can be dropped and rebuilt.

Commands bring it up to date before they return, so a query after a command sees its effect.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from eventsourcing.application import Application
from sqlalchemy.engine import Connection, Engine

from arc_catalog.domain.outcomes import FrameworkDefinition
from arc_catalog.domain.policies import Policy
from arc_catalog.domain.records import OutcomeState, from_primitive, record_type_of
from arc_catalog.domain.rosters import Course, Org, Person, Section, Term
from arc_platform.views import StalePosition, TrackedView

STREAM = "catalog-store"
metadata = sa.MetaData()
entries = sa.Table(
    "catalog_entries",
    metadata,
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("aggregate_id", sa.String(36), nullable=False, unique=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("data", sa.Text, nullable=False),
)
links = sa.Table(
    "catalog_links",
    metadata,
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("relation", sa.String(40), primary_key=True),
    sa.Column("target", sa.String(400), primary_key=True),
    sa.Index("catalog_links_by_target", "kind", "relation", "target"),
)


@dataclass(frozen=True)
class Entry:
    kind: str
    key: str
    revision: int
    data: dict[str, Any]


class CatalogIndex:
    def __init__(self, engine: Engine, store: Application[Any]) -> None:
        self.view = TrackedView(engine, metadata)
        self.store = store
        self._lock = threading.Lock()

    @property
    def position(self) -> int:
        return self.view.position(STREAM)

    def catch_up(self, batch_size: int = 500) -> int:
        """Apply every stored event not yet indexed; returns the position reached."""
        with self._lock:
            position = self.view.position(STREAM)
            while True:
                notifications = self.store.recorder.select_notifications(
                    position, batch_size, inclusive_of_start=False
                )
                if not notifications:
                    return position
                try:
                    with self.view.advancing(STREAM, notifications[-1].id) as conn:
                        for notification in notifications:
                            self._apply(conn, self.store.mapper.to_domain_event(notification))
                except StalePosition as stale:  # another process indexed them first
                    position = stale.current
                    continue
                position = notifications[-1].id

    def _apply(self, conn: Connection, domain_event: Any) -> None:
        record = record_type_of(domain_event)
        if record is None:
            return
        key, data = domain_event.key, domain_event.data
        row = {
            "aggregate_id": str(domain_event.originator_id),
            "revision": domain_event.originator_version,
            "data": json.dumps(data, default=str, sort_keys=True),
        }
        where = (entries.c.kind == record.kind) & (entries.c.key == key)
        if conn.execute(sa.update(entries).where(where).values(**row)).rowcount == 0:
            conn.execute(sa.insert(entries).values(kind=record.kind, key=key, **row))
        conn.execute(sa.delete(links).where((links.c.kind == record.kind) & (links.c.key == key)))
        found = sorted(set(links_of(record.kind, data)))
        if found:
            conn.execute(
                sa.insert(links),
                [
                    {"kind": record.kind, "key": key, "relation": rel, "target": target[:400]}
                    for rel, target in found
                ],
            )

    # --- queries --------------------------------------------------------------------------

    def get(self, kind: str, key: str) -> Entry | None:
        with self.view.engine.connect() as conn:
            row = conn.execute(
                sa.select(entries.c.revision, entries.c.data).where(
                    (entries.c.kind == kind) & (entries.c.key == key)
                )
            ).first()
        return Entry(kind, key, int(row[0]), json.loads(row[1])) if row else None

    def entries(
        self,
        kind: str,
        where: Mapping[str, str | None] | None = None,
        *,
        after: str = "",
        limit: int | None = None,
    ) -> list[Entry]:
        """Entries of ``kind`` linked to every ``relation: target`` in ``where`` (a None target
        is no filter), in key order, after the key ``after``."""
        query = sa.select(entries.c.key, entries.c.revision, entries.c.data).where(
            entries.c.kind == kind, entries.c.key > after
        )
        for relation, target in (where or {}).items():
            if target is None:
                continue
            query = query.where(
                sa.exists().where(
                    (links.c.kind == kind)
                    & (links.c.key == entries.c.key)
                    & (links.c.relation == relation)
                    & (links.c.target == target)
                )
            )
        query = query.order_by(entries.c.key)
        if limit is not None:
            query = query.limit(limit)
        with self.view.engine.connect() as conn:
            return [Entry(kind, str(k), int(r), json.loads(d)) for k, r, d in conn.execute(query)]

    def keys(self, kind: str, where: Mapping[str, str | None] | None = None) -> list[str]:
        return [entry.key for entry in self.entries(kind, where)]


def links_of(kind: str, data: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """What an entry points at, for finding it by those targets."""
    if kind == "outcome":
        state = from_primitive(OutcomeState, data)
        yield from _optional(
            framework=state.definition.framework_id,
            parent=state.definition.parent_id,
            scale=state.definition.scale_id,
        )
        yield ("status", "retired" if state.definition.retired else "live")
        yield from (("tag", tag) for tag in state.definition.tags)
        yield from (("aligned_to", target) for target in state.definition.aligned_to)
    elif kind == "framework":
        framework = from_primitive(FrameworkDefinition, data)
        yield from _optional(case=framework.case.identifier if framework.case else None)
    elif kind == "policy":
        policy = from_primitive(Policy, data)
        yield ("scope", policy.scope)
        yield ("status", "retired" if policy.retired else "live")
    elif kind == "course":
        course = from_primitive(Course, data)
        yield from _optional(school=course.school_id, scale=course.scale_id, source=course.source)
        yield from (("outcome", o.outcome_id) for o in course.outcomes)
    elif kind == "term":
        term = from_primitive(Term, data)
        yield from _optional(parent=term.parent_id, source=term.source)
    elif kind == "org":
        org = from_primitive(Org, data)
        yield from _optional(parent=org.parent_id, source=org.source)
    elif kind == "section":
        section = from_primitive(Section, data)
        yield from _optional(course=section.course_id, school=section.school_id)
        yield ("source", section.source)
        yield from _many(term=section.term_ids, teacher=section.teacher_ids)
        yield from _many(student=section.student_ids)
    elif kind == "person":
        person = from_primitive(Person, data)
        yield ("role", person.role)
        yield ("source", person.source)
        yield ("status", "active" if person.active else "inactive")
        yield from _many(school=person.school_ids, guardian_of=person.guardian_of)


def _optional(**targets: str | None) -> Iterator[tuple[str, str]]:
    return ((relation, target) for relation, target in targets.items() if target)


def _many(**targets: Iterable[str]) -> Iterator[tuple[str, str]]:
    return ((relation, target) for relation, values in targets.items() for target in values)


__all__ = ["STREAM", "CatalogIndex", "Entry"]
