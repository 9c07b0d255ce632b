"""The catalog on its real stores (SQLite, and PostgreSQL): imports are all or nothing, a
revision never rewrites history, and a scale change reaches every outcome in one transaction."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from arc_catalog.__main__ import CatalogSettings
from arc_catalog.application import Catalog, open_catalog
from arc_catalog.case.package import read_package
from arc_catalog.core import CatalogStore
from arc_catalog.domain.errors import InvalidDefinition
from arc_catalog.domain.outcomes import OutcomeDefinition
from arc_catalog.domain.policies import GradeBand, Policy
from arc_catalog.domain.records import PersonRecord, to_primitive
from arc_catalog.domain.rosters import Course, CourseOutcome, Person
from arc_catalog.domain.scales import FOUR_LEVELS, ProficiencyScale
from arc_catalog.domain.settings import NetworkSettings
from arc_catalog.index import CatalogIndex
from arc_platform.store import open_application
from arc_platform.views import create_engine

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CASE_FILES = sorted((SHARED / "case").glob("*.json")) if (SHARED / "case").is_dir() else []
ROSTER_DIR = SHARED / "oneroster"
needs_case = pytest.mark.skipif(not CASE_FILES, reason="no CASE files under ../shared/data/case")
needs_roster = pytest.mark.skipif(
    not (ROSTER_DIR / "manifest.csv").is_file(), reason="no OneRoster set under ../shared/data"
)


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> CatalogSettings:
    return CatalogSettings(
        data_dir=tmp_path / "data", database_url=database_url, database_schema="arc_catalog"
    )


@pytest.fixture
def catalog(settings: CatalogSettings) -> Iterator[Catalog]:
    opened = open_catalog(settings)
    opened.define_scale("four", FOUR_LEVELS)
    yield opened
    opened.close()


def stored(catalog: Catalog) -> int:
    return len(catalog.store.recorder.select_notifications(0, 100_000))


def roster_files() -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in ROSTER_DIR.glob("*.csv")}


# --- CASE ------------------------------------------------------------------------------------


@needs_case
def test_every_real_case_package_imports_as_a_framework_and_exports_back(
    catalog: Catalog,
) -> None:
    for path in CASE_FILES:
        package = read_package(path.read_bytes())
        result = catalog.import_case(path.read_bytes(), scale_id="four")
        framework_id = package.document.identifier
        assert result.target == framework_id
        assert result.counts["outcomes"].created == len(package.items)
        tree = catalog.get_framework(framework_id)
        assert tree.framework.value.title == package.document.title
        assert len(tree.outcomes) == len(package.items)
        roots = [o for depth, o in tree.outcomes if depth == 0]
        assert {o.key for o in roots} == {i.identifier for i in package.children_of(None)}
        assert all(o.value.scale.scale_id == "four" for _, o in tree.outcomes)
        exported = read_package(json.dumps(catalog.export_case(framework_id)))
        assert {(i.identifier, i.code, i.statement) for i in exported.items} == {
            (i.identifier, i.code, i.statement) for i in package.items
        }
        assert {a.identifier for a in exported.associations} == {
            a.identifier for a in package.associations
        }
    assert len(catalog.list_frameworks()) == len(CASE_FILES)


def newer_small_package(path: Path, statement: str) -> bytes:
    package: dict[str, Any] = json.loads(path.read_bytes())
    package["CFDocument"]["lastChangeDateTime"] = "2030-01-01T00:00:00+00:00"
    package["CFItems"][1]["fullStatement"] = statement
    gone = package["CFItems"].pop(-1)["identifier"]
    package["CFAssociations"] = [
        a for a in package["CFAssociations"] if a["originNodeURI"]["identifier"] != gone
    ]
    return json.dumps(package).encode()


@needs_case
def test_a_newer_version_of_a_package_is_recorded_as_revisions_not_a_second_copy(
    catalog: Catalog,
) -> None:
    path = CASE_FILES[0]
    package = read_package(path.read_bytes())
    catalog.import_case(path.read_bytes(), scale_id="four")
    again = catalog.import_case(path.read_bytes())
    assert again.position is None and again.counts["outcomes"].unchanged == len(package.items)
    result = catalog.import_case(newer_small_package(path, "A clearer statement"))
    counts = result.counts["outcomes"]
    assert (counts.created, counts.revised, counts.retired) == (0, 1, 1)
    edited, gone = package.items[1].identifier, package.items[-1].identifier
    assert catalog.get_outcome(edited).value.definition.statement == "A clearer statement"
    assert catalog.get_outcome(edited).revision == 2
    assert catalog.get_outcome(edited, revision=1).value.definition.statement == (
        package.items[1].statement
    )
    assert catalog.get_outcome(gone).value.definition.retired
    framework = package.document.identifier
    assert len(catalog.list_outcomes(framework)) == len(package.items) - 1
    assert len(catalog.list_outcomes(framework, include_retired=True)) == len(package.items)
    assert len(catalog.list_frameworks()) == 1
    with pytest.raises(InvalidDefinition) as older:
        catalog.import_case(path.read_bytes())
    assert older.value.field == "CFDocument.lastChangeDateTime"


@needs_case
def test_a_malformed_package_changes_nothing(catalog: Catalog) -> None:
    package: dict[str, Any] = json.loads(CASE_FILES[0].read_bytes())
    package["CFItems"][5].pop("fullStatement")
    package["CFItems"].pop(2)  # a parent goes missing: a partial package
    before = stored(catalog)
    with pytest.raises(InvalidDefinition) as caught:
        catalog.import_case(json.dumps(package), scale_id="four")
    fields = {v.field for v in caught.value.violations}
    assert "CFItems[4].fullStatement" in fields
    assert any(f.endswith("destinationNodeURI") for f in fields)
    assert stored(catalog) == before and catalog.list_outcomes() == []


# --- OneRoster -------------------------------------------------------------------------------


@needs_roster
def test_the_real_oneroster_set_imports_with_its_relationships(catalog: Catalog) -> None:
    result = catalog.import_oneroster(roster_files())
    assert {kind: c.created for kind, c in result.counts.items()} == {
        "orgs": 1,
        "terms": 4,
        "courses": 2,
        "sections": 5,
        "people": 20,
    }
    assert any("fiel.demographics" in w for w in result.warnings)
    assert [s.key for s in catalog.list_sections(student_id="us0003")] == ["cl0001", "cl0003"]
    assert {s.key for s in catalog.list_sections(teacher_id="us0001")} == {
        "cl0001",
        "cl0002",
        "cl0003",
        "cl0004",
    }
    assert len(catalog.list_people(school_id="or0001")) == 20
    again = catalog.import_oneroster(roster_files())
    assert again.position is None
    assert all(c.created == c.revised == 0 for c in again.counts.values())


@needs_roster
def test_a_roster_with_one_bad_row_imports_nothing(catalog: Catalog) -> None:
    files = roster_files()
    users = files["users.csv"].decode().splitlines()
    users[4] = users[4].replace('"true"', '"maybe"', 1)  # line 5: enabledUser
    files["users.csv"] = "\n".join(users).encode()
    files["enrollments.csv"] += (
        b'"en9999","","","cl0404","or0001","us0003","student","false","",""\n'
    )
    before = stored(catalog)
    with pytest.raises(InvalidDefinition) as caught:
        catalog.import_oneroster(files)
    assert {v.field for v in caught.value.violations} == {
        "users.csv:5:enabledUser",
        "enrollments.csv:32:classSourcedId",
    }
    assert stored(catalog) == before
    assert catalog.list_people() == [] and catalog.list_sections() == []


@needs_roster
def test_a_large_import_is_one_transaction_even_when_the_store_refuses_it(
    catalog: Catalog, settings: CatalogSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer creates one of the people while the import is being prepared: the store
    refuses the import's single save, and not one of its other entries is left behind."""
    interloper = open_application(CatalogStore, settings)
    real_save = catalog.store.save

    def save_after_a_concurrent_write(*records: Any, **kwargs: Any) -> Any:
        person = Person("student", "Someone", "Else")
        interloper.save(PersonRecord(key="us0020", data=to_primitive(person), traceparent=""))
        return real_save(*records, **kwargs)

    monkeypatch.setattr(catalog.store, "save", save_after_a_concurrent_write)
    before = stored(catalog)
    with pytest.raises(IntegrityError):
        catalog.import_oneroster(roster_files())
    monkeypatch.undo()
    assert stored(catalog) == before + 1  # only the other writer's person
    catalog.index.catch_up()
    assert [p.key for p in catalog.list_people()] == ["us0020"]
    assert catalog.list_sections() == [] and catalog.list_orgs() == []
    interloper.close()


# --- scales, outcomes and history ---------------------------------------------------------------


def test_revising_a_scale_revises_every_outcome_on_it_together(catalog: Catalog) -> None:
    for code in ("SCI.1", "SCI.2", "SCI.3"):
        catalog.define_outcome("", OutcomeDefinition(code, f"I can {code}", "four"))
    before = stored(catalog)
    recoloured = replace(
        FOUR_LEVELS,
        levels=(replace(FOUR_LEVELS.levels[0], colour="#ff0000"), *FOUR_LEVELS.levels[1:]),
    )
    saved = catalog.define_scale("four", recoloured)
    assert saved.revision == 2 and stored(catalog) == before + 4
    for key in ("sci.1", "sci.2", "sci.3"):
        outcome = catalog.get_outcome(key)
        assert (outcome.revision, outcome.value.scale.revision) == (2, 2)
        assert outcome.value.scale.scale.levels[0].colour == "#ff0000"
        # what evidence scored against revision 1 can still be read as it was
        assert catalog.get_outcome(key, revision=1).value.scale.revision == 1
    assert catalog.define_scale("four", recoloured).position is None


def test_an_inline_scale_is_reused_and_a_different_one_under_its_name_is_refused(
    catalog: Catalog,
) -> None:
    inline = ProficiencyScale("1-4", FOUR_LEVELS.levels, D(3))
    first = catalog.define_outcome("", OutcomeDefinition("A.1", "I can", ""), inline)
    catalog.define_outcome("", OutcomeDefinition("A.2", "I can", ""), inline)
    assert first.position is not None
    assert {o.value.scale.scale_id for o in catalog.list_outcomes()} == {"1-4"}
    other = replace(inline, mastery_threshold=D(4))
    before = stored(catalog)
    with pytest.raises(InvalidDefinition) as caught:
        catalog.define_outcome("", OutcomeDefinition("A.3", "I can", ""), other)
    assert caught.value.field == "scale" and stored(catalog) == before


def test_every_broken_reference_is_named_and_nothing_is_written(catalog: Catalog) -> None:
    before = stored(catalog)
    with pytest.raises(InvalidDefinition) as caught:
        catalog.define_outcome(
            "m.1",
            OutcomeDefinition(
                "M.1", "I can", "four", framework_id="nowhere", aligned_to=("ghost",)
            ),
        )
    assert {v.field for v in caught.value.violations} == {"framework_id", "aligned_to[0]"}
    with pytest.raises(InvalidDefinition) as course:
        catalog.define_course(
            "alg", Course("Algebra", scale_id="percent", outcomes=(CourseOutcome("ghost", True),))
        )
    assert {v.field for v in course.value.violations} == {"scale_id", "outcomes[0].outcome_id"}
    assert stored(catalog) == before


# --- policies and settings ---------------------------------------------------------------------


def test_policies_resolve_from_network_to_course_to_outcome(catalog: Catalog) -> None:
    catalog.define_outcome("m.1", OutcomeDefinition("M.1", "I can", "four", tags=("academic",)))
    catalog.define_course("alg", Course("Algebra", outcomes=(CourseOutcome("m.1", power=True),)))
    letters = (GradeBand(D(3), "A"), GradeBand(D(0), "C"))
    catalog.set_policy(
        Policy("network", None, "decaying_average", {"w": "0.65"}, report_card=letters)
    )
    catalog.set_policy(Policy("course", "alg", "mean", academic_outcome_tags=("academic",)))
    catalog.set_policy(Policy("outcome", "m.1", "n_mastery", {"n": "3"}))
    effective = catalog.effective_policy("alg", "m.1")
    assert (effective.method, effective.method_from) == ("n_mastery", "outcome:m.1")
    assert effective.report_card_from == "network" and effective.academic_tags_from == "course:alg"
    catalog.retire_policy("outcome", "m.1")
    assert catalog.effective_policy("alg", "m.1").method == "mean"
    assert catalog.get_policy("outcome:m.1").revision == 2
    assert catalog.get_policy("outcome:m.1", revision=1).value.method == "n_mastery"
    with pytest.raises(InvalidDefinition) as caught:
        catalog.set_policy(Policy("course", "ghost", "mean"))
    assert caught.value.field == "scope_id"


def test_the_network_names_its_labels_and_default_scale(catalog: Catalog) -> None:
    catalog.set_settings(NetworkSettings("Ridge", {"outcome": "competency"}, "four"))
    settings = catalog.settings()
    assert settings.value.labels["outcome"] == "competency"
    assert settings.value.labels["outcomes"] == "outcomes"
    defined = catalog.define_outcome("", OutcomeDefinition("H.1", "I can", ""))
    assert catalog.get_outcome(defined.key).value.scale.scale_id == "four"
    with pytest.raises(InvalidDefinition) as caught:
        catalog.set_settings(NetworkSettings(default_scale_id="ghost"))
    assert caught.value.field == "default_scale_id"


# --- the index is derived: it can be rebuilt from the store --------------------------------------


@needs_roster
def test_the_index_rebuilt_from_the_store_matches_the_live_one(
    catalog: Catalog, tmp_path: Path
) -> None:
    catalog.import_oneroster(roster_files())
    fresh = CatalogSettings(data_dir=tmp_path / "rebuilt")  # an empty SQLite index
    rebuilt = CatalogIndex(create_engine(fresh), catalog.store)
    assert rebuilt.catch_up() == catalog.index.position
    for kind in ("scale", "org", "term", "course", "section", "person"):
        assert rebuilt.entries(kind) == catalog.index.entries(kind)
    assert rebuilt.keys("section", {"student": "us0003"}) == ["cl0001", "cl0003"]
