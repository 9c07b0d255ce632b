"""Every published event class, found by subject or CloudEvents type."""

from __future__ import annotations

from arc_contracts.base import ContractEvent
from arc_contracts.catalog_v1 import (
    CourseDefinedV1,
    FrameworkDefinedV1,
    NetworkSettingsDefinedV1,
    OrgDefinedV1,
    OutcomeDefinedV1,
    PersonDefinedV1,
    PolicyDefinedV1,
    ScaleDefinedV1,
    SectionDefinedV1,
    StudentForgottenV1,
    TermDefinedV1,
)
from arc_contracts.evidence_v1 import AttemptRecordedV1, AttemptVoidedV1
from arc_contracts.mastery_v1 import MasteryChangedV1
from arc_contracts.reporting_v1 import MasteryWarningV1

ALL_EVENTS: tuple[type[ContractEvent], ...] = (
    ScaleDefinedV1,
    OutcomeDefinedV1,
    PolicyDefinedV1,
    CourseDefinedV1,
    SectionDefinedV1,
    PersonDefinedV1,
    FrameworkDefinedV1,
    TermDefinedV1,
    OrgDefinedV1,
    NetworkSettingsDefinedV1,
    StudentForgottenV1,
    AttemptRecordedV1,
    AttemptVoidedV1,
    MasteryChangedV1,
    MasteryWarningV1,
)

BY_TYPE: dict[str, type[ContractEvent]] = {cls.event_type(): cls for cls in ALL_EVENTS}
BY_SUBJECT: dict[str, type[ContractEvent]] = {cls.subject(): cls for cls in ALL_EVENTS}
CONTEXTS: tuple[str, ...] = tuple(sorted({cls.context for cls in ALL_EVENTS}))


class UnknownEventType(LookupError):
    pass


def event_class(event_type: str) -> type[ContractEvent]:
    try:
        return BY_TYPE[event_type]
    except KeyError:
        raise UnknownEventType(f"unknown event type {event_type!r}") from None
