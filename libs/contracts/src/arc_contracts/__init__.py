"""Versioned event contracts of Mastery Arc. See README, "Events and subjects"."""

from arc_contracts.base import ContractEvent, stream_name, stream_subjects
from arc_contracts.catalog_v1 import (
    REMOVED,
    CourseDefinedV1,
    CourseOutcomeV1,
    FrameworkDefinedV1,
    FrameworkGroupV1,
    GradeBandV1,
    NetworkSettingsDefinedV1,
    OrgDefinedV1,
    OutcomeDefinedV1,
    PersonDefinedV1,
    PolicyDefinedV1,
    ProficiencyScaleV1,
    ScaleDefinedV1,
    ScaleLevelV1,
    SectionDefinedV1,
    StudentForgottenV1,
    TermDefinedV1,
)
from arc_contracts.envelope import Envelope, MalformedMessage, decode, encode
from arc_contracts.evidence_v1 import AttemptRecordedV1, AttemptVoidedV1
from arc_contracts.mastery_v1 import MasteryCauseV1, MasteryChangedV1, MasteryValueV1
from arc_contracts.reporting_v1 import MasteryWarningV1

__all__ = [
    "REMOVED",
    "AttemptRecordedV1",
    "AttemptVoidedV1",
    "ContractEvent",
    "CourseDefinedV1",
    "CourseOutcomeV1",
    "Envelope",
    "FrameworkDefinedV1",
    "FrameworkGroupV1",
    "GradeBandV1",
    "MalformedMessage",
    "MasteryCauseV1",
    "MasteryChangedV1",
    "MasteryValueV1",
    "MasteryWarningV1",
    "NetworkSettingsDefinedV1",
    "OrgDefinedV1",
    "OutcomeDefinedV1",
    "PersonDefinedV1",
    "PolicyDefinedV1",
    "ProficiencyScaleV1",
    "ScaleDefinedV1",
    "ScaleLevelV1",
    "SectionDefinedV1",
    "StudentForgottenV1",
    "TermDefinedV1",
    "decode",
    "encode",
    "stream_name",
    "stream_subjects",
]
