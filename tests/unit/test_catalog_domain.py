"""The catalog's own rules for outcomes, frameworks, rosters and settings, and what each stored
revision publishes. Pure: no store, no broker."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest

from arc_catalog.domain.errors import InvalidDefinition, Violation, clean_tags, slug
from arc_catalog.domain.outcomes import (
    FrameworkDefinition,
    Group,
    OutcomeDefinition,
    framework_problems,
    normalized_outcome,
    outcome_problems,
    parent_chain_problem,
)
from arc_catalog.domain.policies import GradeBand, Policy
from arc_catalog.domain.records import (
    OutcomeRecord,
    OutcomeState,
    PolicyRecord,
    ScaleRecord,
    SectionRecord,
    SettingsRecord,
    to_primitive,
)
from arc_catalog.domain.rosters import (
    Course,
    CourseOutcome,
    Person,
    Section,
    Term,
    course_problems,
    person_problems,
    section_problems,
    term_problems,
)
from arc_catalog.domain.scales import FOUR_LEVELS
from arc_catalog.domain.settings import NetworkSettings, settings_problems, with_default_labels
from arc_catalog.published import translate
from arc_contracts import (
    NetworkSettingsDefinedV1,
    OutcomeDefinedV1,
    PolicyDefinedV1,
    ScaleDefinedV1,
    SectionDefinedV1,
)

OUTCOME = OutcomeDefinition(
    code="MATH.6.RP.1", statement="I can use ratio language", scale_id="four"
)


def fields(problems: list[Violation]) -> list[str]:
    return [p.field for p in problems]


# --- outcomes and frameworks ---------------------------------------------------------------


def test_an_outcome_definition_is_tidied_before_it_is_checked() -> None:
    tidy = normalized_outcome(
        replace(
            OUTCOME,
            code=" MATH.6.RP.1 ",
            tags=("Academic", "habits of work", "academic", " "),
            description="  ",
            aligned_to=("ccss.6.rp.1", "ccss.6.rp.1"),
        )
    )
    assert tidy.code == "MATH.6.RP.1"
    assert tidy.tags == ("academic", "habits-of-work")
    assert tidy.description is None and tidy.aligned_to == ("ccss.6.rp.1",)


@pytest.mark.parametrize(
    ("outcome_id", "definition", "field"),
    [
        ("", OUTCOME, "outcome_id"),
        ("has space", OUTCOME, "outcome_id"),
        ("m.1", replace(OUTCOME, code=" "), "code"),
        ("m.1", replace(OUTCOME, code="X" * 101), "code"),
        ("m.1", replace(OUTCOME, statement=""), "statement"),
        ("m.1", replace(OUTCOME, scale_id=""), "scale_id"),
        ("m.1", replace(OUTCOME, framework_id="f", parent_id="m.1"), "parent_id"),
        ("m.1", replace(OUTCOME, parent_id="m"), "parent_id"),
        ("m.1", replace(OUTCOME, aligned_to=("x", "m.1")), "aligned_to[1]"),
    ],
)
def test_a_broken_outcome_names_the_field_at_fault(
    outcome_id: str, definition: OutcomeDefinition, field: str
) -> None:
    assert field in fields(outcome_problems(outcome_id, definition))


def test_a_good_outcome_passes() -> None:
    assert outcome_problems("math.6.rp.1", OUTCOME) == []


def test_ids_made_from_codes_and_names() -> None:
    assert slug("ISTE 1.3.a") == "iste-1.3.a"
    assert slug(" MATH.6.RP.1 ") == "math.6.rp.1"
    assert clean_tags(["21st Century", "21st_century"]) == ("21st-century",)


def test_moving_an_outcome_under_its_own_descendant_is_refused() -> None:
    parents = {"b": "a", "c": "b"}
    problem = parent_chain_problem("a", "c", parents)
    assert problem is not None and problem.field == "parent_id"
    assert parent_chain_problem("c", "a", parents) is None


def test_framework_groups_nest_without_loops_or_strangers() -> None:
    good = FrameworkDefinition(
        "ISTE Students",
        groups=(
            Group("empowered", "1", "Empowered learner"),
            Group("g", "1.1", "Goals", None, "empowered"),
        ),
    )
    assert framework_problems("iste", good) == []
    stranger = replace(good, groups=(Group("g", "1.1", "Goals", None, "nowhere"),))
    assert fields(framework_problems("iste", stranger)) == ["groups[0].parent_id"]
    loop = replace(good, groups=(Group("a", "A", "A", None, "b"), Group("b", "B", "B", None, "a")))
    assert "groups" in fields(framework_problems("iste", loop))
    twice = replace(good, groups=(Group("a", "A", "A"), Group("a", "A2", "A2")))
    assert "groups" in fields(framework_problems("iste", twice))
    assert fields(framework_problems("iste", replace(good, title=" "))) == ["title"]


# --- rosters -----------------------------------------------------------------------------------


def test_roster_entries_name_their_broken_fields() -> None:
    twice = Course("Algebra", outcomes=(CourseOutcome("m.1", True), CourseOutcome("m.1")))
    assert fields(course_problems("alg", twice)) == ["outcomes"]
    assert fields(
        term_problems("fall", Term("Fall", start_date="2026-09-01", end_date="2026-08-01"))
    ) == ["end_date"]
    assert fields(term_problems("fall", Term("Fall", kind="quarter"))) == ["kind"]  # type: ignore[arg-type]
    assert fields(term_problems("fall", Term("Fall", start_date="1 Sept"))) == ["start_date"]
    crowded = Section("alg", "Algebra A", student_ids=("s-1", "s-1"))
    assert fields(section_problems("alg-a", crowded)) == ["student_ids"]


@pytest.mark.parametrize(
    ("person", "field"),
    [
        (Person("student", "Ada", " "), "family_name"),
        (Person("pupil", "Ada", "L"), "role"),  # type: ignore[arg-type]
        (Person("student", "Ada", "L", email="ada"), "email"),
        (Person("teacher", "Ada", "L", guardian_of=("s-1",)), "guardian_of"),
        (Person("guardian", "Ada", "L", guardian_of=("g-1",)), "guardian_of"),
    ],
)
def test_a_broken_person_names_the_field_at_fault(person: Person, field: str) -> None:
    assert field in fields(person_problems("g-1", person))


# --- settings --------------------------------------------------------------------------------


def test_a_network_calls_outcomes_competencies_on_screen() -> None:
    settings = NetworkSettings(labels={"outcome": "competency", "outcomes": "competencies"})
    assert settings_problems(settings) == []
    labels = with_default_labels(settings.labels)
    assert labels["outcome"] == "competency" and labels["framework"] == "framework"


def test_unknown_or_empty_labels_are_refused() -> None:
    problems = settings_problems(NetworkSettings(labels={"badge": "x", "outcome": " "}))
    assert fields(problems) == ["labels.badge", "labels.outcome"]


def test_an_error_lists_every_violation() -> None:
    error = InvalidDefinition([*outcome_problems("", replace(OUTCOME, code=""))])
    assert [v.field for v in error.violations] == ["outcome_id", "code"]
    assert error.field == "outcome_id" and "code: must not be empty" in str(error)


# --- what each stored revision publishes -------------------------------------------------------


def published(record: object) -> list[object]:
    return [translate(e) for e in record.collect_events()]  # type: ignore[attr-defined]


def test_each_outcome_revision_publishes_the_whole_definition_with_its_scale() -> None:
    scale = ScaleRecord(key="four", data=to_primitive(FOUR_LEVELS), traceparent="")
    state = OutcomeState(replace(OUTCOME, tags=("academic",)), scale.snapshot())
    outcome = OutcomeRecord(key="math.6.rp.1", data=to_primitive(state), traceparent="")
    assert outcome.record(to_primitive(state)) is False  # the same again: no revision
    revised = replace(state, definition=replace(state.definition, statement="I can explain"))
    assert outcome.record(to_primitive(revised)) is True
    events = published(outcome)
    assert all(isinstance(e, OutcomeDefinedV1) for e in events)
    first, second = events
    assert isinstance(first, OutcomeDefinedV1) and isinstance(second, OutcomeDefinedV1)
    assert (first.revision, second.revision) == (1, 2)
    assert second.statement == "I can explain" and second.tags == ("academic",)
    assert (second.scale.scale_id, second.scale.revision) == ("four", 1)
    assert [lv.colour for lv in second.scale.levels] == ["#d95f02", "#e6ab02", "#1b9e77", "#7570b3"]
    (scale_event,) = published(scale)
    assert isinstance(scale_event, ScaleDefinedV1) and scale_event.scale.mastery_threshold == D(3)


def test_policies_sections_and_settings_publish_their_contracts() -> None:
    policy = Policy(
        "course", "alg", "decaying_average", {"w": "0.7"}, report_card=(GradeBand(D(3), "P"),)
    )
    (event,) = published(PolicyRecord(key="course:alg", data=to_primitive(policy), traceparent=""))
    assert isinstance(event, PolicyDefinedV1)
    assert (event.policy_id, event.scope_id, event.params) == ("course:alg", "alg", {"w": "0.7"})
    section = Section("alg", "Algebra A", term_ids=("fall", "spring"), student_ids=("s-1",))
    (event,) = published(SectionRecord(key="alg-a", data=to_primitive(section), traceparent=""))
    assert isinstance(event, SectionDefinedV1)
    assert (event.term_id, event.term_ids, event.student_ids) == (
        "fall",
        ("fall", "spring"),
        ("s-1",),
    )
    settings = NetworkSettings(name="Ridge", labels={"outcome": "competency"})
    (event,) = published(SettingsRecord(key="network", data=to_primitive(settings), traceparent=""))
    assert isinstance(event, NetworkSettingsDefinedV1)
    assert event.labels["outcome"] == "competency" and event.labels["outcomes"] == "outcomes"


def test_outcome_ids_keep_the_namespace_evidence_already_knows() -> None:
    from uuid import NAMESPACE_URL, uuid5

    assert OutcomeRecord.id_for("sci.1") == uuid5(
        uuid5(NAMESPACE_URL, "https://masteryarc.org/outcomes"), "sci.1"
    )
