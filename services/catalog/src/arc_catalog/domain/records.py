"""The catalog's aggregates. Each keeps one definition; every stored event (``Defined`` or
``Revised``) carries the *whole* definition, so any one event says everything about its
revision, and the revision number is the aggregate's version. Nothing is ever rewritten.

Definitions are stored as primitives (dicts, lists, Decimals) converted by pydantic, so the
domain's dataclasses stay plain.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event
from pydantic import TypeAdapter

from arc_catalog.domain.outcomes import FrameworkDefinition, OutcomeDefinition
from arc_catalog.domain.policies import Policy
from arc_catalog.domain.rosters import Course, Org, Person, Section, Term
from arc_catalog.domain.scales import ProficiencyScale
from arc_catalog.domain.settings import NetworkSettings

T = TypeVar("T")


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(kind: type[Any]) -> TypeAdapter[Any]:
    if kind not in _ADAPTERS:
        _ADAPTERS[kind] = TypeAdapter(kind)
    return _ADAPTERS[kind]


def to_primitive(value: Any) -> dict[str, Any]:
    """Dicts, lists, strings, numbers and Decimals: what a stored event holds once read back."""
    return cast(dict[str, Any], _lists(_adapter(type(value)).dump_python(value, mode="python")))


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _lists(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_lists(item) for item in value]
    return value


def from_primitive(kind: type[T], data: Any) -> T:
    return cast(T, _adapter(kind).validate_python(data))


@dataclass(frozen=True)
class ScaleSnapshot:
    """A scale as it stood at one revision: what an outcome is scored against."""

    scale_id: str
    revision: int
    scale: ProficiencyScale


@dataclass(frozen=True)
class OutcomeState:
    definition: OutcomeDefinition
    scale: ScaleSnapshot


#: Who made a change, with which client, when (``arc_platform.auth.RequestContext.actor()``).
Actor = dict[str, Any]


def _no_actor(state: dict[str, Any]) -> None:
    state["actor"] = None  # stored before changes recorded their actor


class Record(Aggregate):
    """One catalog entry (a scale, an outcome, a person…) known by its ``key``. Every change
    says who made it (``actor``; version 2 of the events, older ones are upcast with none)."""

    kind = "record"
    if TYPE_CHECKING:  # not at run time: eventsourcing would read it as a dataclass field
        state_type: type[Any]

    class Defined(Aggregate.Created):
        class_version = 2
        key: str
        data: dict[str, Any]
        traceparent: str
        actor: Actor | None

        upcast_v1_v2 = staticmethod(_no_actor)

    class Revised(Aggregate.Event):
        class_version = 2
        key: str
        data: dict[str, Any]
        traceparent: str
        actor: Actor | None

        upcast_v1_v2 = staticmethod(_no_actor)

        def apply(self, aggregate: Any) -> None:
            aggregate.data = self.data

    @classmethod
    def create_id(cls, key: str, **_: Any) -> UUID:
        return cls.id_for(key)

    @classmethod
    def id_for(cls, key: str) -> UUID:
        return uuid5(uuid5(NAMESPACE_URL, f"https://masteryarc.org/{cls.kind}s"), key)

    @event(Defined)
    def __init__(
        self, key: str, data: dict[str, Any], traceparent: str, actor: Actor | None = None
    ) -> None:
        self.key = key
        self.data = data

    def record(
        self, data: dict[str, Any], traceparent: str = "", actor: Actor | None = None
    ) -> bool:
        """A new revision if ``data`` differs from the current one; False when nothing changed."""
        if data == self.data:
            return False
        self.trigger_event(
            self.Revised, key=self.key, data=data, traceparent=traceparent, actor=actor
        )
        return True

    @property
    def revision(self) -> int:
        return int(self.version)


class Typed(Record, Generic[T]):
    @property
    def state(self) -> T:
        return cast(T, from_primitive(self.state_type, self.data))


class ScaleRecord(Typed[ProficiencyScale]):
    kind = "scale"
    state_type = ProficiencyScale

    def snapshot(self) -> ScaleSnapshot:
        return ScaleSnapshot(self.key, self.revision, self.state)


class OutcomeRecord(Typed[OutcomeState]):
    kind = "outcome"
    state_type = OutcomeState

    @classmethod
    def id_for(cls, key: str) -> UUID:
        # The namespace outcomes have always used, so ids stay what evidence already knows.
        return uuid5(uuid5(NAMESPACE_URL, "https://masteryarc.org/outcomes"), key)


class FrameworkRecord(Typed[FrameworkDefinition]):
    kind = "framework"
    state_type = FrameworkDefinition


class PolicyRecord(Typed[Policy]):
    kind = "policy"
    state_type = Policy


class CourseRecord(Typed[Course]):
    kind = "course"
    state_type = Course


class TermRecord(Typed[Term]):
    kind = "term"
    state_type = Term


class OrgRecord(Typed[Org]):
    kind = "org"
    state_type = Org


class SectionRecord(Typed[Section]):
    kind = "section"
    state_type = Section


class PersonRecord(Typed[Person]):
    """A person; once forgotten (right to erasure), their key is gone and their sealed
    fields can no longer be read. The events stay."""

    kind = "person"
    state_type = Person

    class Forgotten(Aggregate.Event):
        key: str
        traceparent: str
        actor: Actor | None

        def apply(self, aggregate: Any) -> None:
            aggregate.forgotten = True

    forgotten = False

    def forget(self, traceparent: str = "", actor: Actor | None = None) -> None:
        self.trigger_event(self.Forgotten, key=self.key, traceparent=traceparent, actor=actor)


class SettingsRecord(Typed[NetworkSettings]):
    kind = "settings"
    state_type = NetworkSettings


RECORD_TYPES: tuple[type[Record], ...] = (
    ScaleRecord,
    OutcomeRecord,
    FrameworkRecord,
    PolicyRecord,
    CourseRecord,
    TermRecord,
    OrgRecord,
    SectionRecord,
    PersonRecord,
    SettingsRecord,
)
BY_KIND: dict[str, type[Record]] = {record.kind: record for record in RECORD_TYPES}


def record_type_of(domain_event: Any) -> type[Record] | None:
    """The record class a stored event belongs to (None for anything else)."""
    for record in RECORD_TYPES:
        if isinstance(domain_event, record.Defined | record.Revised):
            return record
    return None


def decimal_or_none(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))
