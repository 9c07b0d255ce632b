"""What every catalog use case stands on. Each command checks every rule first (nothing is
written when one fails), then saves every aggregate it changed in ONE ``save`` call, which is one
transaction, and brings the index up to date before returning the store position it reached.

The catalog is a single writer: commands of one process are serialised by a lock, and running
one catalog process per store is part of its deployment contract.

Personal fields (a person's names, email, username) are sealed with that person's key before
they are stored and opened when read (``arc_platform.erasure``): the stored events, the index
and the published events hold only ciphertext.

Every stored change carries its ``actor`` (who, roles, client, address, when, through which
endpoint), asked of the ``actor`` source the catalog was opened with: in the service, the
authenticated request being served (``arc_platform.auth``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from arc_catalog.domain.errors import InvalidDefinition, NotFound, Violation, raise_if_any
from arc_catalog.domain.records import (
    Actor,
    OutcomeState,
    Record,
    ScaleRecord,
    ScaleSnapshot,
    SettingsRecord,
    Typed,
    from_primitive,
    to_primitive,
)
from arc_catalog.domain.rosters import PERSONAL_FIELDS
from arc_catalog.domain.settings import NetworkSettings, with_default_labels
from arc_catalog.index import CatalogIndex
from arc_platform.erasure import Forgotten, PersonalData

R = TypeVar("R", bound=Record)
T = TypeVar("T")
#: Called with (phase, done, total) while a long command runs.
Progress = Callable[[str, int, int], None]
#: Who is making the change being recorded (None: not known, e.g. a script or a test).
ActorSource = Callable[[], Actor | None]
SETTINGS_KEY = "network"


def no_actor() -> Actor | None:
    return None


class CatalogStore(Application[UUID]):
    """The catalog's event store (its outbox too: the relay publishes from it)."""

    name = "catalog"


@dataclass(frozen=True)
class Saved:
    key: str
    revision: int
    position: int | None  # None when nothing changed (the same definition again)


@dataclass(frozen=True)
class Versioned(Generic[T]):
    """An entry at one revision."""

    key: str
    revision: int
    value: T


def no_progress(phase: str, done: int, total: int) -> None:
    """The default progress callback: report nothing."""


class CatalogCore:
    """Reading and writing records; the use cases are built on this."""

    def __init__(
        self,
        store: CatalogStore,
        index: CatalogIndex,
        personal: PersonalData,
        actor: ActorSource = no_actor,
    ) -> None:
        self.store = store
        self.index = index
        self.personal = personal
        self.actor = actor
        self._lock = threading.RLock()

    @contextmanager
    def writing(self) -> Iterator[None]:
        """One command at a time, on an index that has seen every stored event."""
        with self._lock:
            self.index.catch_up()
            yield

    def load(self, record: type[R], key: str, revision: int | None = None) -> R | None:
        try:
            found: Any = self.store.repository.get(record.id_for(key), version=revision)
        except AggregateNotFoundError:
            return None
        if revision is not None and found.version != revision:
            return None
        return cast(R, found)

    def require(
        self, record: type[R], key: str, revision: int | None = None, field: str | None = None
    ) -> R:
        found = self.load(record, key, revision)
        if found is None:
            raise NotFound(record.kind, key, field, revision)
        return found

    def put(
        self, record: type[R], key: str, data: Any, traceparent: str, existing: R | None = None
    ) -> R:
        """A new record, or a revision of ``existing`` (no event when nothing changed).
        Personal fields are compared opened and stored sealed."""
        primitive = self.opened(record.kind, to_primitive(data))
        found = existing if existing is not None else self.load(record, key)
        if found is None:
            sealed = self._sealed(record.kind, key, primitive)
            return record(key=key, data=sealed, traceparent=traceparent, actor=self.actor())
        if primitive != self.opened(record.kind, found.data):
            found.record(self._sealed(record.kind, key, primitive), traceparent, self.actor())
        return found

    def opened(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        """``data`` with its personal fields readable (or "[removed]": person forgotten)."""
        if kind != "person":
            return data
        return {**data, **{f: self.personal.open(data.get(f)) for f in PERSONAL_FIELDS}}

    def _sealed(self, kind: str, key: str, data: dict[str, Any]) -> dict[str, Any]:
        if kind != "person":
            return data
        try:
            seal = self.personal.writer(key)
        except Forgotten as forgotten:
            raise InvalidDefinition(f"{kind}_id", str(forgotten)) from None
        return {**data, **{f: seal(data.get(f)) for f in PERSONAL_FIELDS}}

    def save(self, *records: Record) -> int | None:
        """Save every change in one transaction; index it; return the position reached."""
        recordings = self.store.save(*records)
        if not recordings:
            return None
        self.index.catch_up()
        return recordings[-1].notification.id

    def saved(self, record: Record, *others: Record) -> Saved:
        position = self.save(record, *others)
        return Saved(record.key, record.revision, position)

    def versioned(self, record: Typed[T]) -> Versioned[T]:
        return Versioned(record.key, record.revision, record.state)

    def listed(self, state_type: type[T], kind: str, **where: str | None) -> list[Versioned[T]]:
        return [
            Versioned(e.key, e.revision, from_primitive(state_type, e.data))
            for e in self.index.entries(kind, where)
        ]

    def exists(self, kind: str, key: str) -> bool:
        return self.index.get(kind, key) is not None

    # --- scales and settings, which everything else needs ------------------------------------

    def settings(self) -> Versioned[NetworkSettings]:
        record = self.load(SettingsRecord, SETTINGS_KEY)
        current = record.state if record else NetworkSettings()
        labelled = replace(current, labels=with_default_labels(current.labels))
        return Versioned(SETTINGS_KEY, record.revision if record else 0, labelled)

    def scale_snapshot(self, scale_id: str, field: str = "scale_id") -> ScaleSnapshot:
        record = self.load(ScaleRecord, scale_id)
        if record is None:
            raise InvalidDefinition(field, f"unknown scale {scale_id!r}")
        return record.snapshot()

    def outcome_state(self, outcome_id: str) -> OutcomeState | None:
        entry = self.index.get("outcome", outcome_id)
        return from_primitive(OutcomeState, entry.data) if entry else None

    def check_known(self, kind: str, keys: Mapping[str, str | None]) -> list[Violation]:
        """A violation for each ``field: key`` that names no entry of ``kind``."""
        return [
            Violation(field, f"unknown {kind} {key!r}")
            for field, key in keys.items()
            if key and not self.exists(kind, key)
        ]


def checked(problems: list[Violation]) -> None:
    raise_if_any(problems)
