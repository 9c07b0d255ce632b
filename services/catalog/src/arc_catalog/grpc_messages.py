"""Protobuf messages to domain values and back. No rules here: only shapes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal, cast

from arc.catalog.v1 import catalog_pb2 as pb
from arc_catalog.core import Saved, Versioned
from arc_catalog.domain.outcomes import FrameworkDefinition, Group, OutcomeDefinition
from arc_catalog.domain.policies import EffectivePolicy, GradeBand, Policy
from arc_catalog.domain.records import OutcomeState, ScaleSnapshot
from arc_catalog.domain.rosters import Course, CourseOutcome, Org, Person, Section, Term
from arc_catalog.domain.scales import ProficiencyScale, ScaleLevel
from arc_catalog.domain.settings import NetworkSettings
from arc_catalog.usecases.imports import ImportResult


def dec(value: float) -> Decimal:
    """A double as the decimal a person meant: 0.65 → Decimal("0.65"), 3.0 → Decimal(3)."""
    number = Decimal(repr(value))
    return Decimal(int(number)) if number == number.to_integral_value() else number


def num(value: Decimal | None) -> float:
    return float(value) if value is not None else 0.0


def opt(text: str) -> str | None:
    return text.strip() or None


def saved(result: Saved) -> pb.Saved:
    return pb.Saved(id=result.key, revision=result.revision, position=result.position or 0)


# --- scales and outcomes ---------------------------------------------------------------------


def scale_from(message: pb.ProficiencyScale) -> ProficiencyScale:
    return ProficiencyScale(
        name=message.name,
        levels=tuple(
            ScaleLevel(dec(level.value), level.label, opt(level.colour)) for level in message.levels
        ),
        mastery_threshold=dec(message.mastery_threshold),
        kind=cast(Literal["levels", "numeric"], message.kind or "levels"),
        minimum=dec(message.minimum) if message.HasField("minimum") else None,
        maximum=dec(message.maximum) if message.HasField("maximum") else None,
        step=dec(message.step) if message.HasField("step") else None,
    )


def scale_message(snapshot: ScaleSnapshot) -> pb.ProficiencyScale:
    scale = snapshot.scale
    message = pb.ProficiencyScale(
        scale_id=snapshot.scale_id,
        revision=snapshot.revision,
        name=scale.name,
        kind=scale.kind,
        levels=[
            pb.ScaleLevel(value=num(lv.value), label=lv.label, colour=lv.colour or "")
            for lv in scale.levels
        ],
        mastery_threshold=num(scale.mastery_threshold),
    )
    for name in ("minimum", "maximum", "step"):
        value = getattr(scale, name)
        if value is not None:
            setattr(message, name, float(value))
    return message


def outcome_definition(request: pb.DefineOutcomeRequest) -> OutcomeDefinition:
    return OutcomeDefinition(
        code=request.code,
        statement=request.statement,
        scale_id=request.scale_id or request.scale.scale_id,
        framework_id=opt(request.framework_id),
        parent_id=opt(request.parent_id),
        description=opt(request.description),
        grade_levels=tuple(request.grade_levels),
        subject_area=opt(request.subject_area),
        tags=tuple(request.tags),
        aligned_to=tuple(request.aligned_to),
    )


def outcome_message(entry: Versioned[OutcomeState], depth: int = 0) -> pb.Outcome:
    outcome = entry.value.definition
    return pb.Outcome(
        outcome_id=entry.key,
        code=outcome.code,
        statement=outcome.statement,
        scale=scale_message(entry.value.scale),
        revision=entry.revision,
        framework_id=outcome.framework_id or "",
        parent_id=outcome.parent_id or "",
        description=outcome.description or "",
        grade_levels=outcome.grade_levels,
        subject_area=outcome.subject_area or "",
        tags=outcome.tags,
        aligned_to=outcome.aligned_to,
        retired=outcome.retired,
        case_identifier=outcome.case.identifier if outcome.case else "",
        case_uri=outcome.case.uri if outcome.case else "",
        depth=depth,
    )


def group_from(message: pb.Group) -> Group:
    return Group(
        group_id=message.group_id.strip(),
        code=message.code.strip() or message.group_id.strip(),
        title=message.title,
        description=opt(message.description),
        parent_id=opt(message.parent_id),
    )


def framework_from(message: pb.Framework) -> FrameworkDefinition:
    return FrameworkDefinition(
        title=message.title,
        description=opt(message.description),
        subject_area=opt(message.subject_area),
        version=opt(message.version),
        adoption_status=opt(message.adoption_status),
    )


def framework_message(entry: Versioned[FrameworkDefinition]) -> pb.Framework:
    framework = entry.value
    return pb.Framework(
        framework_id=entry.key,
        revision=entry.revision,
        title=framework.title,
        description=framework.description or "",
        subject_area=framework.subject_area or "",
        version=framework.version or "",
        adoption_status=framework.adoption_status or "",
        groups=[
            pb.Group(
                group_id=g.group_id,
                code=g.code,
                title=g.title,
                description=g.description or "",
                parent_id=g.parent_id or "",
            )
            for g in framework.groups
        ],
        case_identifier=framework.case.identifier if framework.case else "",
        case_uri=framework.case.uri if framework.case else "",
    )


def import_result(result: ImportResult) -> pb.ImportResult:
    return pb.ImportResult(
        target=result.target,
        counts=[
            pb.ImportCount(
                kind=kind,
                created=c.created,
                revised=c.revised,
                unchanged=c.unchanged,
                retired=c.retired,
            )
            for kind, c in result.counts.items()
        ],
        position=result.position or 0,
        warnings=result.warnings,
    )


# --- policies --------------------------------------------------------------------------------


def bands_from(bands: Any) -> tuple[GradeBand, ...]:
    return tuple(
        GradeBand(dec(b.minimum), b.grade, dec(b.percent) if b.HasField("percent") else None)
        for b in bands
    )


def band_messages(bands: tuple[GradeBand, ...]) -> list[pb.GradeBand]:
    found = []
    for band in bands:
        message = pb.GradeBand(minimum=num(band.minimum), grade=band.grade)
        if band.percent is not None:
            message.percent = float(band.percent)
        found.append(message)
    return found


def policy_from(message: pb.Policy) -> Policy:
    return Policy(
        scope=cast(Literal["network", "course", "outcome"], message.scope),
        scope_id=opt(message.scope_id),
        method=message.method.strip(),
        params={key.strip(): value.strip() for key, value in message.params.items()},
        excluded_evidence_tags=tuple(message.excluded_evidence_tags),
        academic_outcome_tags=tuple(message.academic_outcome_tags),
        report_card=bands_from(message.report_card),
    )


def policy_message(entry: Versioned[Policy]) -> pb.Policy:
    policy = entry.value
    return pb.Policy(
        policy_id=entry.key,
        revision=entry.revision,
        scope=policy.scope,
        scope_id=policy.scope_id or "",
        method=policy.method,
        params=dict(policy.params),
        excluded_evidence_tags=policy.excluded_evidence_tags,
        academic_outcome_tags=policy.academic_outcome_tags,
        report_card=band_messages(policy.report_card),
        retired=policy.retired,
    )


def effective_message(policy: EffectivePolicy) -> pb.EffectivePolicy:
    return pb.EffectivePolicy(
        method=policy.method,
        params=dict(policy.params),
        excluded_evidence_tags=policy.excluded_evidence_tags,
        academic_outcome_tags=policy.academic_outcome_tags,
        report_card=band_messages(policy.report_card),
        method_from=policy.method_from,
        report_card_from=policy.report_card_from or "",
        academic_tags_from=policy.academic_tags_from or "",
    )


# --- rosters ---------------------------------------------------------------------------------


def course_from(message: pb.Course) -> Course:
    return Course(
        title=message.title,
        code=opt(message.code),
        school_id=opt(message.school_id),
        scale_id=opt(message.scale_id),
        subject_area=opt(message.subject_area),
        grade_levels=tuple(message.grade_levels),
        outcomes=tuple(CourseOutcome(o.outcome_id.strip(), o.power) for o in message.outcomes),
    )


def course_message(entry: Versioned[Course]) -> pb.Course:
    course = entry.value
    return pb.Course(
        course_id=entry.key,
        revision=entry.revision,
        title=course.title,
        code=course.code or "",
        school_id=course.school_id or "",
        scale_id=course.scale_id or "",
        subject_area=course.subject_area or "",
        grade_levels=course.grade_levels,
        outcomes=[
            pb.CourseOutcome(outcome_id=o.outcome_id, power=o.power) for o in course.outcomes
        ],
        source=course.source,
    )


def term_from(message: pb.Term) -> Term:
    return Term(
        title=message.title,
        kind=cast(Any, message.kind or "term"),
        start_date=opt(message.start_date),
        end_date=opt(message.end_date),
        parent_id=opt(message.parent_id),
        school_year=opt(message.school_year),
    )


def term_message(entry: Versioned[Term]) -> pb.Term:
    term = entry.value
    return pb.Term(
        term_id=entry.key,
        revision=entry.revision,
        title=term.title,
        kind=term.kind,
        start_date=term.start_date or "",
        end_date=term.end_date or "",
        parent_id=term.parent_id or "",
        school_year=term.school_year or "",
        source=term.source,
    )


def org_from(message: pb.Org) -> Org:
    return Org(
        name=message.name,
        kind=message.kind or "school",
        parent_id=opt(message.parent_id),
        identifier=opt(message.identifier),
    )


def org_message(entry: Versioned[Org]) -> pb.Org:
    org = entry.value
    return pb.Org(
        org_id=entry.key,
        revision=entry.revision,
        name=org.name,
        kind=org.kind,
        parent_id=org.parent_id or "",
        identifier=org.identifier or "",
        source=org.source,
    )


def section_from(message: pb.Section) -> Section:
    return Section(
        course_id=message.course_id.strip(),
        title=message.title,
        code=opt(message.code),
        school_id=opt(message.school_id),
        term_ids=tuple(message.term_ids),
        teacher_ids=tuple(message.teacher_ids),
        student_ids=tuple(message.student_ids),
        periods=tuple(message.periods),
    )


def section_message(entry: Versioned[Section]) -> pb.Section:
    section = entry.value
    return pb.Section(
        section_id=entry.key,
        revision=entry.revision,
        course_id=section.course_id,
        title=section.title,
        code=section.code or "",
        school_id=section.school_id or "",
        term_ids=section.term_ids,
        teacher_ids=section.teacher_ids,
        student_ids=section.student_ids,
        periods=section.periods,
        source=section.source,
    )


def person_from(message: pb.Person) -> Person:
    return Person(
        role=cast(Any, message.role),
        given_name=message.given_name,
        family_name=message.family_name,
        email=opt(message.email),
        username=opt(message.username),
        school_ids=tuple(message.school_ids),
        guardian_of=tuple(message.guardian_of),
        grade_levels=tuple(message.grade_levels),
        active=message.active if message.HasField("active") else True,
    )


def person_message(entry: Versioned[Person]) -> pb.Person:
    person = entry.value
    return pb.Person(
        person_id=entry.key,
        revision=entry.revision,
        role=person.role,
        given_name=person.given_name,
        family_name=person.family_name,
        email=person.email or "",
        username=person.username or "",
        school_ids=person.school_ids,
        guardian_of=person.guardian_of,
        grade_levels=person.grade_levels,
        active=person.active,
        source=person.source,
    )


def settings_from(message: pb.NetworkSettings) -> NetworkSettings:
    return NetworkSettings(
        name=message.name.strip() or "Mastery Arc",
        labels={key.strip(): value for key, value in message.labels.items()},
        default_scale_id=opt(message.default_scale_id),
    )


def settings_message(entry: Versioned[NetworkSettings]) -> pb.NetworkSettings:
    settings = entry.value
    return pb.NetworkSettings(
        name=settings.name,
        labels=dict(settings.labels),
        default_scale_id=settings.default_scale_id or "",
        revision=entry.revision,
    )
