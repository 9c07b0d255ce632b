"""The catalog's domain: pure rules and the aggregates that record them. No I/O."""

from arc_catalog.domain.errors import InvalidDefinition, NotFound, Violation
from arc_catalog.domain.outcomes import (
    CaseDocument,
    CaseRef,
    FrameworkDefinition,
    Group,
    OutcomeDefinition,
)
from arc_catalog.domain.policies import EffectivePolicy, GradeBand, Policy, resolve_policy
from arc_catalog.domain.rosters import Course, CourseOutcome, Org, Person, Section, Term
from arc_catalog.domain.scales import ProficiencyScale, ScaleLevel
from arc_catalog.domain.settings import NetworkSettings

__all__ = [
    "CaseDocument",
    "CaseRef",
    "Course",
    "CourseOutcome",
    "EffectivePolicy",
    "FrameworkDefinition",
    "GradeBand",
    "Group",
    "InvalidDefinition",
    "NetworkSettings",
    "NotFound",
    "Org",
    "OutcomeDefinition",
    "Person",
    "Policy",
    "ProficiencyScale",
    "ScaleLevel",
    "Section",
    "Term",
    "Violation",
    "resolve_policy",
]
