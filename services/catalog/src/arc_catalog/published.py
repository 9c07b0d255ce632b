"""The one place that knows both the catalog's stored events and its published contracts.

Every stored catalog event carries a whole definition, so each one maps to one published event
with the whole current definition and its revision (the aggregate version). Personal fields are
published as stored: sealed (``arc_platform.erasure``). A forgotten person becomes
``student_forgotten``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from arc_catalog.domain.outcomes import FrameworkDefinition
from arc_catalog.domain.policies import Policy
from arc_catalog.domain.records import (
    OutcomeState,
    PersonRecord,
    ScaleSnapshot,
    from_primitive,
    record_type_of,
)
from arc_catalog.domain.rosters import Course, Org, Person, Section, Term
from arc_catalog.domain.scales import ProficiencyScale
from arc_catalog.domain.settings import NetworkSettings, with_default_labels
from arc_contracts import (
    ContractEvent,
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


def translate(domain_event: Any) -> ContractEvent | None:
    if isinstance(domain_event, PersonRecord.Forgotten):
        return StudentForgottenV1(student_id=domain_event.key)
    record = record_type_of(domain_event)
    if record is None:
        return None
    build = _BUILDERS[record.kind]
    return build(domain_event.key, domain_event.originator_version, domain_event.data)


def scale_contract(snapshot: ScaleSnapshot) -> ProficiencyScaleV1:
    scale = snapshot.scale
    return ProficiencyScaleV1(
        scale_id=snapshot.scale_id,
        revision=snapshot.revision,
        name=scale.name,
        kind=scale.kind,
        levels=tuple(
            ScaleLevelV1(value=lv.value, label=lv.label, colour=lv.colour) for lv in scale.levels
        ),
        minimum=scale.minimum,
        maximum=scale.maximum,
        step=scale.step,
        mastery_threshold=scale.mastery_threshold,
    )


def _scale(key: str, revision: int, data: dict[str, Any]) -> ContractEvent:
    scale = from_primitive(ProficiencyScale, data)
    return ScaleDefinedV1(scale=scale_contract(ScaleSnapshot(key, revision, scale)))


def _outcome(key: str, revision: int, data: dict[str, Any]) -> ContractEvent:
    state = from_primitive(OutcomeState, data)
    outcome = state.definition
    return OutcomeDefinedV1(
        outcome_id=key,
        code=outcome.code,
        statement=outcome.statement,
        scale=scale_contract(state.scale),
        revision=revision,
        framework_id=outcome.framework_id,
        parent_id=outcome.parent_id,
        description=outcome.description,
        grade_levels=outcome.grade_levels,
        subject_area=outcome.subject_area,
        tags=outcome.tags,
        aligned_to=outcome.aligned_to,
        retired=outcome.retired,
        case_identifier=outcome.case.identifier if outcome.case else None,
        case_uri=outcome.case.uri if outcome.case else None,
    )


def _framework(key: str, revision: int, data: dict[str, Any]) -> ContractEvent:
    framework = from_primitive(FrameworkDefinition, data)
    return FrameworkDefinedV1(
        framework_id=key,
        revision=revision,
        title=framework.title,
        description=framework.description,
        subject_area=framework.subject_area,
        framework_version=framework.version,
        adoption_status=framework.adoption_status,
        groups=tuple(
            FrameworkGroupV1(
                group_id=g.group_id,
                code=g.code,
                title=g.title,
                description=g.description,
                parent_id=g.parent_id,
            )
            for g in framework.groups
        ),
        case_identifier=framework.case.identifier if framework.case else None,
        case_uri=framework.case.uri if framework.case else None,
    )


def _policy(key: str, revision: int, data: dict[str, Any]) -> ContractEvent:
    policy = from_primitive(Policy, data)
    return PolicyDefinedV1(
        policy_id=key,
        revision=revision,
        scope=policy.scope,
        scope_id=policy.scope_id,
        method=policy.method,
        params=dict(policy.params),
        excluded_evidence_tags=policy.excluded_evidence_tags,
        academic_outcome_tags=policy.academic_outcome_tags,
        report_card=tuple(
            GradeBandV1(minimum=b.minimum, grade=b.grade, percent=b.percent)
            for b in policy.report_card
        ),
        retired=policy.retired,
    )


def _course(key: str, revision: int, data: dict[str, Any]) -> ContractEvent:
    course = from_primitive(Course, data)
    return CourseDefinedV1(
        course_id=key,
        revision=revision,
        title=course.title,
        school_id=course.school_id,
        outcomes=tuple(
            CourseOutcomeV1(outcome_id=o.outcome_id, power=o.power) for o in course.outcomes
        ),
        code=course.code,
        scale_id=course.scale_id,
        subject_area=course.subject_area,
        grade_levels=course.grade_levels,
    )


def _section(key: str, revision: int, data: dict[str, Any]) -> ContractEvent:
    section = from_primitive(Section, data)
    return SectionDefinedV1(
        section_id=key,
        revision=revision,
        course_id=section.course_id,
        school_id=section.school_id,
        term_id=section.term_ids[0] if section.term_ids else None,
        title=section.title,
        teacher_ids=section.teacher_ids,
        student_ids=section.student_ids,
        code=section.code,
        term_ids=section.term_ids,
    )


def _person(key: str, revision: int, data: dict[str, Any]) -> ContractEvent:
    person = from_primitive(Person, data)
    return PersonDefinedV1(
        person_id=key,
        revision=revision,
        role=person.role,
        given_name=person.given_name,
        family_name=person.family_name,
        school_ids=person.school_ids,
        guardian_of=person.guardian_of,
        active=person.active,
        grade_levels=person.grade_levels,
    )


def _term(key: str, revision: int, data: dict[str, Any]) -> ContractEvent:
    term = from_primitive(Term, data)
    return TermDefinedV1(
        term_id=key,
        revision=revision,
        title=term.title,
        kind=term.kind,
        start_date=term.start_date,
        end_date=term.end_date,
        parent_id=term.parent_id,
        school_year=term.school_year,
    )


def _org(key: str, revision: int, data: dict[str, Any]) -> ContractEvent:
    org = from_primitive(Org, data)
    return OrgDefinedV1(
        org_id=key,
        revision=revision,
        org_name=org.name,
        kind=org.kind,
        parent_id=org.parent_id,
        identifier=org.identifier,
    )


def _settings(key: str, revision: int, data: dict[str, Any]) -> ContractEvent:
    settings = from_primitive(NetworkSettings, data)
    return NetworkSettingsDefinedV1(
        revision=revision,
        network_name=settings.name,
        labels=with_default_labels(settings.labels),
        default_scale_id=settings.default_scale_id,
    )


_BUILDERS: dict[str, Callable[[str, int, dict[str, Any]], ContractEvent]] = {
    "scale": _scale,
    "outcome": _outcome,
    "framework": _framework,
    "policy": _policy,
    "course": _course,
    "section": _section,
    "person": _person,
    "term": _term,
    "org": _org,
    "settings": _settings,
}

__all__ = ["scale_contract", "translate"]
