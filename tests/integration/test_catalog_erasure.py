"""The right to erasure in the catalog, on its real stores: a person's names are stored and
published sealed with their own key; forgetting a student deletes the key, so the events stay
but the names read as removed, and nothing more is recorded about the student."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from arc_catalog import published
from arc_catalog.__main__ import CatalogSettings
from arc_catalog.application import Catalog, open_catalog
from arc_catalog.domain.errors import InvalidDefinition
from arc_catalog.domain.rosters import Course, Person, Section
from arc_contracts import PersonDefinedV1, StudentForgottenV1
from arc_platform.erasure import REMOVED

ROSA = Person(role="student", given_name="Rosa", family_name="Parks", email="rosa@example.org")


@pytest.fixture
def catalog(tmp_path: Path, database_url: str | None) -> Iterator[Catalog]:
    settings = CatalogSettings(
        data_dir=tmp_path / "data", database_url=database_url, database_schema="arc_catalog"
    )
    opened = open_catalog(settings)
    opened.define_course("c1", Course(title="Algebra"))
    opened.define_person("s-rosa", ROSA)
    yield opened
    opened.close()


def stored_text(catalog: Catalog) -> str:
    """Every stored event, as the store holds it."""
    notifications = catalog.store.recorder.select_notifications(0, 100_000)
    return " ".join(n.state.decode(errors="replace") for n in notifications)


def published_events(catalog: Catalog) -> list[object]:
    notifications = catalog.store.recorder.select_notifications(0, 100_000)
    return [published.translate(catalog.store.mapper.to_domain_event(n)) for n in notifications]


def test_names_are_stored_and_published_sealed_and_read_back_opened(catalog: Catalog) -> None:
    person = published_events(catalog)[-1]

    assert "Rosa" not in stored_text(catalog)
    assert "rosa@example.org" not in stored_text(catalog)
    assert "Rosa" not in json.dumps(catalog.index.get("person", "s-rosa").data)  # type: ignore[union-attr]
    assert isinstance(person, PersonDefinedV1)
    assert person.given_name.startswith("enc:v1:s-rosa:")
    assert catalog.get_person("s-rosa").value == ROSA
    assert [p.value.given_name for p in catalog.list_people(role="student")] == ["Rosa"]


def test_the_same_person_again_is_no_new_revision(catalog: Catalog) -> None:
    saved = catalog.define_person("s-rosa", ROSA)

    assert saved.position is None and saved.revision == 1


def test_a_forgotten_student_stays_stored_but_reads_as_removed(catalog: Catalog) -> None:
    before = len(catalog.store.recorder.select_notifications(0, 100_000))

    saved = catalog.forget_student("s-rosa")

    assert saved.position is not None
    assert len(catalog.store.recorder.select_notifications(0, 100_000)) == before + 1
    person = catalog.get_person("s-rosa").value
    assert (person.given_name, person.family_name, person.email) == (REMOVED, REMOVED, REMOVED)
    assert person.role == "student"  # not personal: kept
    assert published_events(catalog)[-1] == StudentForgottenV1(student_id="s-rosa")
    assert catalog.forget_student("s-rosa").position is None  # again: nothing changes


def test_nothing_more_is_recorded_about_a_forgotten_student(catalog: Catalog) -> None:
    catalog.forget_student("s-rosa")
    stored = len(catalog.store.recorder.select_notifications(0, 100_000))

    with pytest.raises(InvalidDefinition, match="forgotten") as defined:
        catalog.define_person("s-rosa", ROSA)
    with pytest.raises(InvalidDefinition, match="forgotten") as enrolled:
        catalog.define_section("sec-1", Section(course_id="c1", title="A", student_ids=("s-rosa",)))

    assert defined.value.field == "person_id"
    assert enrolled.value.field == "student_ids[0]"
    assert len(catalog.store.recorder.select_notifications(0, 100_000)) == stored


def test_only_students_are_forgotten(catalog: Catalog) -> None:
    catalog.define_person("t-ada", Person(role="teacher", given_name="Ada", family_name="L"))

    with pytest.raises(InvalidDefinition, match="teacher, not a student"):
        catalog.forget_student("t-ada")
    assert catalog.get_person("t-ada").value.given_name == "Ada"
