"""Versioned event contracts of Mastery Arc. See README, "Events and subjects"."""

from arc_contracts.base import ContractEvent, stream_name, stream_subjects
from arc_contracts.catalog_v1 import OutcomeDefinedV1, ProficiencyScaleV1, ScaleLevelV1
from arc_contracts.envelope import Envelope, MalformedMessage, decode, encode
from arc_contracts.evidence_v1 import AttemptRecordedV1
from arc_contracts.mastery_v1 import MasteryChangedV1

__all__ = [
    "AttemptRecordedV1",
    "ContractEvent",
    "Envelope",
    "MalformedMessage",
    "MasteryChangedV1",
    "OutcomeDefinedV1",
    "ProficiencyScaleV1",
    "ScaleLevelV1",
    "decode",
    "encode",
    "stream_name",
    "stream_subjects",
]
