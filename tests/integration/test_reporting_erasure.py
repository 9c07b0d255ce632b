"""Reporting and the right to erasure, with a real key vault: a student's sealed name and the
comments about her open in reporting; once she is forgotten she is shown as a removed student,
the comments are gone, and a rebuild from the same events shows the same."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import pytest
import sqlalchemy as sa

from arc_contracts import REMOVED, AttemptVoidedV1, PersonDefinedV1, StudentForgottenV1
from arc_platform.consumer import Delivery
from arc_platform.erasure import PersonalData, open_personal_data
from arc_reporting.read_model import ReportingReadModel
from arc_reporting.views.common import Config
from arc_reporting.views.student import outcome_detail, student_page
from tests.support.reporting import Story, day, riverside

COMMENT = "Maya explained her ratio tables clearly"


@pytest.fixture
def personal(tmp_path: Path) -> Iterator[PersonalData]:
    opened = open_personal_data(f"sqlite:///{tmp_path / 'keyvault.sqlite'}", cache_seconds=0)
    yield opened
    opened.close()


def model(tmp_path: Path, name: str, personal: PersonalData) -> ReportingReadModel:
    return ReportingReadModel(sa.create_engine(f"sqlite:///{tmp_path / name}"), personal)


@dataclass(frozen=True)
class MayasFields:
    """Maya's names, a comment about her and a void's reason, sealed as published."""

    given_name: str
    family_name: str
    comment: str
    void_reason: str


def sealed_for_maya(personal: PersonalData) -> MayasFields:
    def seal(text: str) -> str:
        return personal.seal("s-maya", text) or ""

    return MayasFields(seal("Maya"), seal("Garcia"), seal(COMMENT), seal("Maya was absent"))


def maya_as_published(sealed: MayasFields, revision: int) -> PersonDefinedV1:
    return PersonDefinedV1(
        person_id="s-maya",
        revision=revision,
        role="student",
        given_name=sealed.given_name,
        family_name=sealed.family_name,
    )


def tell_maya(story: Story, sealed: MayasFields) -> None:
    """Maya as the catalog publishes her, an attempt with a comment, and a voided attempt."""
    maya = maya_as_published(sealed, revision=2)
    story.publish(maya, day(1))
    story.record("s-maya", "ratios", 3, day(3), comment=sealed.comment)
    wrong = story.record("s-maya", "fractions", 1, day(4))
    voided = AttemptVoidedV1(
        attempt_id=wrong,
        student_id="s-maya",
        outcome_id="fractions",
        reason=sealed.void_reason,
        voided_by="t-ada",
        voided_at=day(5),
    )
    story.publish(voided, day(5))


def what_is_shown(shown: ReportingReadModel) -> tuple[str, list[str | None], list[str | None]]:
    name = student_page(shown, Config(), "s-maya", None).name
    ratios = outcome_detail(shown, Config(), "s-maya", "ratios", None).attempts
    fractions = outcome_detail(shown, Config(), "s-maya", "fractions", None).attempts
    return name, [a.comment for a in ratios], [a.not_counted for a in fractions]


def test_a_forgotten_student_is_shown_as_removed_live_and_after_a_rebuild(
    tmp_path: Path, personal: PersonalData
) -> None:
    sealed = sealed_for_maya(personal)
    live = riverside(model(tmp_path, "live.sqlite", personal))
    tell_maya(live, sealed)
    assert what_is_shown(live.model) == ("Maya Garcia", [COMMENT], ["voided: Maya was absent"])

    personal.forget("s-maya")
    live.publish(StudentForgottenV1(student_id="s-maya"), day(6))

    removed = ("Removed student", [None], [f"voided: {REMOVED}"])
    assert what_is_shown(live.model) == removed
    assert "Maya" not in str(live.model.content())
    assert student_page(live.model, Config(), "s-noah", None).name == "Noah Smith"

    rebuilt = riverside(model(tmp_path, "rebuilt.sqlite", personal))
    tell_maya(rebuilt, sealed)  # the same events, replayed once her key is gone
    assert what_is_shown(rebuilt.model) == removed
    rebuilt.publish(StudentForgottenV1(student_id="s-maya"), day(6))
    assert what_is_shown(rebuilt.model) == removed


def test_what_arrives_after_the_forget_event_is_not_shown_either(
    tmp_path: Path, personal: PersonalData
) -> None:
    sealed = sealed_for_maya(personal)
    story = riverside(model(tmp_path, "live.sqlite", personal))
    story.publish(StudentForgottenV1(student_id="s-maya"), day(1))  # her key still opens…

    tell_maya(story, sealed)  # …but evidence and a revision published before arrive late

    assert what_is_shown(story.model) == ("Removed student", [None], [f"voided: {REMOVED}"])


@dataclass
class Told:
    """Stands in for a read model while a story is told: keeps the deliveries."""

    deliveries: list[Delivery] = field(default_factory=list)

    def apply(self, batch: list[Delivery]) -> None:
        self.deliveries.extend(batch)


def runs_by_stream(deliveries: list[Delivery]) -> list[list[Delivery]]:
    """Consecutive deliveries of one stream as one batch (the order of all stays as told)."""
    runs: list[list[Delivery]] = []
    for delivery in deliveries:
        if runs and runs[-1][-1].tracking_name == delivery.tracking_name:
            runs[-1].append(delivery)
        else:
            runs.append([delivery])
    return runs


def test_a_batch_gives_what_its_events_give_one_at_a_time(
    tmp_path: Path, personal: PersonalData
) -> None:
    """A batch asks once who is forgotten and writes catalog entries at its end: the same as
    event by event, with the forget inside a batch and a revision told twice."""
    told = Told()
    story = riverside(cast(ReportingReadModel, told))
    sealed = sealed_for_maya(personal)
    tell_maya(story, sealed)
    story.publish(StudentForgottenV1(student_id="s-maya"), day(6))  # her key still opens
    renamed = maya_as_published(sealed, revision=3)
    story.publish(renamed, day(7))  # a new revision in the forget's batch
    tell_maya(story, sealed)  # revision 2 again; late evidence
    assert any(len(run) > 1 for run in runs_by_stream(told.deliveries))

    one_at_a_time = model(tmp_path, "one.sqlite", personal)
    for delivery in told.deliveries:
        one_at_a_time.apply([delivery])
    batched = model(tmp_path, "batched.sqlite", personal)
    for run in runs_by_stream(told.deliveries):
        batched.apply(run)

    assert batched.content() == one_at_a_time.content()
    assert what_is_shown(batched) == ("Removed student", [None, None], [f"voided: {REMOVED}"] * 2)
