"""Events the catalog publishes, version 1.

Every catalog event carries the *whole* current definition of what changed, with its revision,
so a consumer keeps a local view from one event at a time and never calls the catalog back.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from arc_contracts.base import ContractEvent

#: What a sealed field reads as once its person was forgotten (right to erasure).
REMOVED = "[removed]"
#: How personal fields travel (crypto-shredding, see ``arc_platform.erasure``).
SEALED = (
    "Personal data, sealed: 'enc:v1:<person_id>:<base64>' (AES-256-GCM with the person's key "
    "from the key vault); reads as '[removed]' once the person is forgotten."
)


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScaleLevelV1(_Part):
    value: Decimal
    label: str = Field(min_length=1)
    colour: str | None = Field(None, description="CSS colour for charts, e.g. #1b9e77")


class ProficiencyScaleV1(_Part):
    """A scale scores are given on. ``levels`` scales accept only their level values; ``numeric``
    scales accept any number from ``minimum`` to ``maximum`` (a multiple of ``step`` if set) and
    use ``levels`` (possibly empty) only to label ranges."""

    scale_id: str = "default"
    revision: int = Field(1, ge=1)
    name: str
    kind: Literal["levels", "numeric"] = "levels"
    levels: tuple[ScaleLevelV1, ...] = ()
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    step: Decimal | None = None
    mastery_threshold: Decimal

    @model_validator(mode="after")
    def _has_a_range(self) -> ProficiencyScaleV1:
        if self.kind == "levels" and len(self.levels) < 2:
            raise ValueError("a levels scale needs at least two levels")
        if self.kind == "numeric" and (self.minimum is None or self.maximum is None):
            raise ValueError("a numeric scale needs minimum and maximum")
        return self

    @property
    def low(self) -> Decimal:
        return self.minimum if self.minimum is not None else self.levels[0].value

    @property
    def high(self) -> Decimal:
        return self.maximum if self.maximum is not None else self.levels[-1].value


class ScaleDefinedV1(ContractEvent):
    """A proficiency scale was defined or revised."""

    context: ClassVar[str] = "catalog"
    name: ClassVar[str] = "scale_defined"
    version: ClassVar[int] = 1

    scale: ProficiencyScaleV1


class OutcomeDefinedV1(ContractEvent):
    """A learning outcome (competency, standard) was defined, revised or retired; the event holds
    its whole definition at ``revision``, including a copy of its scale."""

    context: ClassVar[str] = "catalog"
    name: ClassVar[str] = "outcome_defined"
    version: ClassVar[int] = 1

    outcome_id: str
    code: str
    statement: str
    scale: ProficiencyScaleV1
    revision: int = Field(ge=1, description="Revision of the outcome this event describes.")
    framework_id: str | None = None
    parent_id: str | None = Field(None, description="Group or parent outcome in the framework.")
    description: str | None = None
    grade_levels: tuple[str, ...] = ()
    subject_area: str | None = Field(None, description="e.g. Mathematics")
    tags: tuple[str, ...] = Field((), description="e.g. academic, habits-of-work")
    aligned_to: tuple[str, ...] = Field((), description="Outcome ids this one is aligned to.")
    retired: bool = False
    case_identifier: str | None = None
    case_uri: str | None = None


class PolicyDefinedV1(ContractEvent):
    """A calculation policy was set or changed, for the network, a course or an outcome."""

    context: ClassVar[str] = "catalog"
    name: ClassVar[str] = "policy_defined"
    version: ClassVar[int] = 1

    policy_id: str
    revision: int = Field(ge=1)
    scope: Literal["network", "course", "outcome"]
    scope_id: str | None = Field(None, description="Course or outcome id; None for network.")
    method: str = Field(description="A mastery calculation method name, e.g. decaying_average.")
    params: dict[str, str] = Field(default_factory=dict)
    excluded_evidence_tags: tuple[str, ...] = Field(
        (), description="Evidence with any of these tags is shown but not counted."
    )
    academic_outcome_tags: tuple[str, ...] = Field(
        (), description="Outcome tags that count toward the academic grade (empty: all)."
    )
    report_card: tuple[GradeBandV1, ...] = ()
    retired: bool = Field(
        False, description="The override was removed: the wider policy applies again."
    )


class GradeBandV1(_Part):
    """Report-card conversion: a course value at or above ``minimum`` earns ``grade``."""

    minimum: Decimal
    grade: str
    percent: Decimal | None = None


class CourseOutcomeV1(_Part):
    outcome_id: str
    power: bool = False


class CourseDefinedV1(ContractEvent):
    """A course and the outcomes it assesses (power outcomes flagged)."""

    context: ClassVar[str] = "catalog"
    name: ClassVar[str] = "course_defined"
    version: ClassVar[int] = 1

    course_id: str
    revision: int = Field(ge=1)
    title: str
    school_id: str | None = None
    outcomes: tuple[CourseOutcomeV1, ...] = ()
    code: str | None = None
    scale_id: str | None = Field(None, description="The scale the course reports on.")
    subject_area: str | None = None
    grade_levels: tuple[str, ...] = ()


class SectionDefinedV1(ContractEvent):
    """A section (class) of a course in a term, with its whole roster at ``revision``."""

    context: ClassVar[str] = "catalog"
    name: ClassVar[str] = "section_defined"
    version: ClassVar[int] = 1

    section_id: str
    revision: int = Field(ge=1)
    course_id: str
    school_id: str | None = None
    term_id: str | None = None
    title: str
    teacher_ids: tuple[str, ...] = ()
    student_ids: tuple[str, ...] = ()
    code: str | None = None
    term_ids: tuple[str, ...] = Field((), description="Every term; term_id is the first.")


class PersonDefinedV1(ContractEvent):
    """A student, teacher, guardian or administrator, with their relationships. Names are
    sealed with the person's key; ids stay plain (pseudonymous keys, not personal data)."""

    context: ClassVar[str] = "catalog"
    name: ClassVar[str] = "person_defined"
    version: ClassVar[int] = 1

    person_id: str
    revision: int = Field(ge=1)
    role: Literal["student", "teacher", "guardian", "administrator"]
    given_name: str = Field(description=SEALED)
    family_name: str = Field(description=SEALED)
    school_ids: tuple[str, ...] = ()
    guardian_of: tuple[str, ...] = Field((), description="Student ids, for guardians.")
    active: bool = True
    grade_levels: tuple[str, ...] = ()


class FrameworkGroupV1(_Part):
    """A heading (domain, strand) outcomes are filed under."""

    group_id: str
    code: str
    title: str
    description: str | None = None
    parent_id: str | None = None


class FrameworkDefinedV1(ContractEvent):
    """An outcome framework was defined or revised (its own fields and groups; its outcomes
    come as ``outcome_defined`` with ``framework_id``)."""

    context: ClassVar[str] = "catalog"
    name: ClassVar[str] = "framework_defined"
    version: ClassVar[int] = 1

    framework_id: str
    revision: int = Field(ge=1)
    title: str
    description: str | None = None
    subject_area: str | None = None
    framework_version: str | None = Field(None, description="The framework's own version label")
    adoption_status: str | None = None
    groups: tuple[FrameworkGroupV1, ...] = ()
    case_identifier: str | None = None
    case_uri: str | None = None


class TermDefinedV1(ContractEvent):
    """A school year, semester, term or grading period."""

    context: ClassVar[str] = "catalog"
    name: ClassVar[str] = "term_defined"
    version: ClassVar[int] = 1

    term_id: str
    revision: int = Field(ge=1)
    title: str
    kind: Literal["schoolYear", "semester", "term", "gradingPeriod"]
    start_date: str | None = Field(None, description="ISO date, e.g. 2026-09-01")
    end_date: str | None = None
    parent_id: str | None = None
    school_year: str | None = None


class OrgDefinedV1(ContractEvent):
    """A school, district or other organisation."""

    context: ClassVar[str] = "catalog"
    name: ClassVar[str] = "org_defined"
    version: ClassVar[int] = 1

    org_id: str
    revision: int = Field(ge=1)
    org_name: str
    kind: str = Field(description="school, district, department, local, state, national")
    parent_id: str | None = None
    identifier: str | None = None


class NetworkSettingsDefinedV1(ContractEvent):
    """The network's settings changed: its name, default scale, and the words its screens use
    for outcomes (e.g. ``{"outcome": "competency", "outcomes": "competencies"}``)."""

    context: ClassVar[str] = "catalog"
    name: ClassVar[str] = "network_settings_defined"
    version: ClassVar[int] = 1

    revision: int = Field(ge=1)
    network_name: str
    labels: dict[str, str]
    default_scale_id: str | None = None


class StudentForgottenV1(ContractEvent):
    """A student was forgotten (right to erasure): their key was deleted, so every sealed
    field about them now reads as removed. Consumers drop what they opened and show the
    student as removed; the pseudonymous ``student_id`` stays."""

    context: ClassVar[str] = "catalog"
    name: ClassVar[str] = "student_forgotten"
    version: ClassVar[int] = 1

    student_id: str


PolicyDefinedV1.model_rebuild()
