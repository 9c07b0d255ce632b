"""A curriculum lead imports state and industry standards as CASE 1.0 packages, re-imports newer
versions, and exports frameworks back. Pure: package text in, checked plans and packages out."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from arc_catalog.case.export import export_package
from arc_catalog.case.package import CasePackage, read_package
from arc_catalog.case.plan import CasePlan, CaseTarget, plan_case_import
from arc_catalog.domain.errors import InvalidDefinition
from arc_catalog.domain.outcomes import FrameworkDefinition, Group, OutcomeDefinition

CASE_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "case"
CASE_FILES = sorted(CASE_DIR.glob("*.json")) if CASE_DIR.is_dir() else []
real_files = pytest.mark.skipif(not CASE_FILES, reason=f"no CASE files under {CASE_DIR}")
NOW = datetime(2026, 9, 1, tzinfo=UTC)
DOC = "d0000000-0000-4000-8000-000000000000"


def item(n: int, code: str, statement: str = "") -> dict[str, Any]:
    return {
        "identifier": f"d0000000-0000-4000-8000-00000000000{n}",
        "uri": f"https://case.example/items/{n}",
        "CFDocumentURI": {"title": "Doc", "identifier": DOC, "uri": "https://case.example/doc"},
        "humanCodingScheme": code,
        "fullStatement": statement or f"I can do {code}",
        "educationLevel": ["06"],
        "lastChangeDateTime": "2026-01-01T00:00:00+00:00",
    }


def child(n: int, origin: int, parent: int | None, kind: str = "isChildOf") -> dict[str, Any]:
    destination = DOC if parent is None else f"d0000000-0000-4000-8000-00000000000{parent}"
    return {
        "identifier": f"a0000000-0000-4000-8000-00000000000{n}",
        "uri": f"https://case.example/associations/{n}",
        "associationType": kind,
        "originNodeURI": {
            "title": "o",
            "identifier": f"d0000000-0000-4000-8000-00000000000{origin}",
            "uri": "x",
        },
        "destinationNodeURI": {"title": "d", "identifier": destination, "uri": "y"},
        "lastChangeDateTime": "2026-01-01T00:00:00+00:00",
    }


def small_package() -> dict[str, Any]:
    """A domain (1) with two outcomes (2, 3); 3 is aligned to a state standard outside."""
    alignment = child(4, 3, None, "exactMatchOf")
    alignment["destinationNodeURI"] = {
        "title": "state",
        "identifier": "e0000000-0000-4000-8000-000000000001",
        "uri": "https://state.example/1",
    }
    return {
        "CFDocument": {
            "identifier": DOC,
            "uri": "https://case.example/doc",
            "title": "School math",
            "creator": "A school",
            "lastChangeDateTime": "2026-01-01T00:00:00+00:00",
        },
        "CFItems": [item(1, "M"), item(2, "M.1"), item(3, "M.2")],
        "CFAssociations": [child(1, 1, None), child(2, 2, 1), child(3, 3, 1), alignment],
    }


def text(package: dict[str, Any]) -> str:
    return json.dumps(package)


def problems_of(package: dict[str, Any] | str) -> list[tuple[str, str]]:
    with pytest.raises(InvalidDefinition) as caught:
        read_package(package if isinstance(package, str) else text(package))
    return [(v.field, v.description) for v in caught.value.violations]


def semantics(package: CasePackage) -> tuple[object, ...]:
    return (
        package.document.identifier,
        package.document.title,
        {
            (i.identifier, i.uri, i.code, i.statement, i.grade_levels, i.notes)
            for i in package.items
        },
        {(a.identifier, a.kind, a.origin, a.destination, a.sequence) for a in package.associations},
        {key: parent for key, (parent, _) in package.placement.items()},
    )


def first_import(package: CasePackage, scale: str = "four") -> CasePlan:
    return plan_case_import(package, CaseTarget(package.document.identifier, scale, None, {}, {}))


# --- real packages -------------------------------------------------------------------------


@real_files
@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.name)
def test_every_real_package_reads_with_its_items_and_hierarchy(path: Path) -> None:
    raw = json.loads(path.read_bytes())
    package = read_package(path.read_bytes())
    assert len(package.items) == len(raw["CFItems"])
    assert len(package.associations) == len(raw["CFAssociations"])
    assert package.warnings == ()
    child_links = [a for a in raw["CFAssociations"] if a["associationType"] == "isChildOf"]
    placed = {key for key, (parent, _) in package.placement.items() if parent is not None}
    roots = [i for i in package.items if package.placement[i.identifier][0] is None]
    assert len(placed) + len(roots) == len(package.items)
    assert len(child_links) == len(package.items)  # in these files every item has one parent


@real_files
def test_the_act_framework_is_a_five_level_tree_under_one_domain() -> None:
    path = next((p for p in CASE_FILES if "act-holistic" in p.name), None)
    if path is None:
        pytest.skip("the ACT Holistic Framework excerpt is not under ../shared/data/case")
    package = read_package(path.read_bytes())
    assert package.document.title == "ACT Holistic Framework, Math"
    (root,) = package.children_of(None)
    assert root.code == "H.A.MATH.GM" and root.statement.startswith("Properties and measurements")
    depth = {root.identifier: 0}
    for item_ in package.items:
        chain, node = 0, item_.identifier
        while package.placement[node][0] is not None:
            node, chain = package.placement[node][0] or "", chain + 1
        depth[item_.identifier] = chain
    assert max(depth.values()) == 4
    level_1 = next(i for i in package.items if i.code == "H.A.MATH.GM.PF.2DFP.L1")
    assert len(package.children_of(level_1.identifier)) == 24


@real_files
def test_an_early_opensalt_export_is_read_despite_its_pre_1_0_quirks() -> None:
    path = next((p for p in CASE_FILES if "what-standards" in p.name), None)
    if path is None:
        pytest.skip("the OpenSALT 'What Standards Could Be' export is not there")
    package = read_package(path.read_bytes())
    assert {i.code for i in package.children_of(None)} == {
        "CCSS.Math.Content.6.RP.A",
        "CCSS.Math.Content.7.RP.A",
    }
    assert all(i.grade_levels in (("06",), ("07",)) for i in package.items)  # educationalLevel
    sequences = {a.sequence for a in package.associations if a.sequence is not None}
    assert sequences == {1, 2}  # given as strings in the file
    plan = first_import(package)
    aligned = {key: o.aligned_to for key, o in plan.outcomes.items() if o.aligned_to}
    assert len(aligned) == 16  # each item has an exactMatchOf to the canonical CCSS item


@real_files
@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.name)
def test_a_real_package_survives_import_and_export(path: Path) -> None:
    package = read_package(path.read_bytes())
    plan = first_import(package)
    exported = export_package(package.document.identifier, plan.framework, plan.outcomes, {}, NOW)
    again = read_package(json.dumps(exported))
    assert semantics(again) == semantics(package)
    assert again.warnings == ()


@real_files
@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.name)
def test_an_export_has_the_final_1_0_shape(path: Path) -> None:
    package = read_package(path.read_bytes())
    plan = first_import(package)
    exported = export_package(package.document.identifier, plan.framework, plan.outcomes, {}, NOW)
    assert set(exported["CFDocument"]["CFPackageURI"]) == {"title", "identifier", "uri"}
    assert all(isinstance(i["CFDocumentURI"], dict) for i in exported["CFItems"])
    assert all("educationalLevel" not in i for i in exported["CFItems"])
    assert all(isinstance(a.get("sequenceNumber", 0), int) for a in exported["CFAssociations"])


# --- malformed and partial packages ---------------------------------------------------------


def mutate(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    package = small_package()
    change(package)
    return package


CASES: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    ("no document", lambda p: p.pop("CFDocument"), "CFDocument", "is required"),
    (
        "document without identifier",
        lambda p: p["CFDocument"].pop("identifier"),
        "CFDocument.identifier",
        "is required",
    ),
    (
        "untitled document",
        lambda p: p["CFDocument"].update(title=" "),
        "CFDocument.title",
        "is required",
    ),
    ("items not a list", lambda p: p.update(CFItems={}), "CFItems", "must be an array"),
    ("item not an object", lambda p: p["CFItems"].append("x"), "CFItems[3]", "must be an object"),
    (
        "item without statement",
        lambda p: p["CFItems"][1].pop("fullStatement"),
        "CFItems[1].fullStatement",
        "is required",
    ),
    (
        "statement not a string",
        lambda p: p["CFItems"][1].update(fullStatement=3),
        "CFItems[1].fullStatement",
        "must be a string",
    ),
    (
        "duplicate item",
        lambda p: p["CFItems"].append(copy.deepcopy(p["CFItems"][2])),
        "CFItems[3].identifier",
        "is already used by CFItems[2]",
    ),
    (
        "item of another document",
        lambda p: p["CFItems"][2]["CFDocumentURI"].update(identifier="other-doc"),
        "CFItems[2].CFDocumentURI",
        "belongs to document other-doc",
    ),
    (
        "parent missing (partial package)",
        lambda p: p["CFItems"].pop(0),
        "CFAssociations[1].destinationNodeURI",
        "neither an item of this package nor its document",
    ),
    (
        "child missing",
        lambda p: p["CFItems"].pop(1),
        "CFAssociations[1].originNodeURI",
        "isChildOf from",
    ),
    (
        "unknown association type",
        lambda p: p["CFAssociations"][3].update(associationType="isCousinOf"),
        "CFAssociations[3].associationType",
        "'isCousinOf' is not a CASE association type",
    ),
    (
        "association end without identifier",
        lambda p: p["CFAssociations"][1].update(originNodeURI="https://x"),
        "CFAssociations[1].originNodeURI",
        "must be a LinkURI",
    ),
    (
        "bad sequence number",
        lambda p: p["CFAssociations"][1].update(sequenceNumber="first"),
        "CFAssociations[1].sequenceNumber",
        "not a whole number",
    ),
    (
        "bad date",
        lambda p: p["CFItems"][0].update(lastChangeDateTime="yesterday"),
        "CFItems[0].lastChangeDateTime",
        "not an ISO 8601 date-time",
    ),
    (
        "grade levels not a list of strings",
        lambda p: p["CFItems"][0].update(educationLevel=[6]),
        "CFItems[0].educationLevel",
        "must be an array",
    ),
    (
        "a loop",
        lambda p: p["CFAssociations"].__setitem__(0, child(1, 1, 3)),
        "CFAssociations[2].destinationNodeURI",
        "makes a loop",
    ),
    (
        "rubric of an item not here",
        lambda p: p.update(
            CFRubrics=[
                {
                    "identifier": "r1",
                    "CFRubricCriteria": [{"CFItemURI": {"identifier": "nope", "uri": "u"}}],
                }
            ]
        ),
        "CFRubrics[0].CFRubricCriteria[0].CFItemURI",
        "item nope is not in this package",
    ),
]


@pytest.mark.parametrize(
    ("change", "field", "says"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_malformed_or_partial_package_is_refused_naming_the_field(
    change: Callable[[dict[str, Any]], None], field: str, says: str
) -> None:
    found = problems_of(mutate(change))
    assert any(f == field and says in d for f, d in found), found


def test_the_small_package_itself_is_fine() -> None:
    package = read_package(text(small_package()))
    assert [i.code for i in package.children_of(None)] == ["M"]


def test_text_that_is_not_json_is_refused_with_its_position() -> None:
    assert problems_of('{"CFDocument": {') == [
        (
            "package",
            "not JSON: Expecting property name enclosed in double quotes (line 1, column 17)",
        )
    ]


def test_a_json_array_is_not_a_package() -> None:
    assert problems_of("[]")[0][0] == "package"


def test_every_problem_is_reported_at_once() -> None:
    def two_faults(package: dict[str, Any]) -> None:
        package["CFItems"][1].pop("fullStatement")
        package["CFItems"][2].pop("uri")

    fields = {f for f, _ in problems_of(mutate(two_faults))}
    assert {"CFItems[1].fullStatement", "CFItems[2].uri"} <= fields


def test_an_item_outside_the_tree_is_filed_at_the_top_with_a_warning() -> None:
    package = read_package(text(mutate(lambda p: p["CFAssociations"].pop(2))))
    assert package.placement[package.items[2].identifier][0] is None
    assert [w.field for w in package.warnings] == ["CFItems[2]"]


# --- importing again: revisions, not copies ------------------------------------------------------


def target_after(plan: CasePlan, **changes: Any) -> CaseTarget:
    settings: dict[str, Any] = {
        "framework_id": DOC,
        "scale_id": "four",
        "framework": plan.framework,
        "outcomes": dict(plan.outcomes),
        "owners": {key: DOC for key in plan.outcomes},
    }
    settings.update(changes)
    return CaseTarget(**settings)


def newer(change: Callable[[dict[str, Any]], None]) -> CasePackage:
    package = small_package()
    package["CFDocument"]["lastChangeDateTime"] = "2026-06-01T00:00:00Z"
    change(package)
    return read_package(text(package))


def test_a_first_import_creates_every_item_as_an_outcome_in_its_tree() -> None:
    plan = first_import(read_package(text(small_package())))
    assert (plan.created, plan.revised, plan.retired, plan.unchanged) == (3, 0, 0, 0)
    by_code = {o.code: o for o in plan.outcomes.values()}
    assert by_code["M"].parent_id is None
    assert by_code["M.1"].parent_id == item(1, "M")["identifier"]
    assert by_code["M.2"].aligned_to == ("e0000000-0000-4000-8000-000000000001",)
    assert all(o.framework_id == DOC and o.scale_id == "four" for o in plan.outcomes.values())
    assert plan.framework.case is not None and len(plan.framework.case.associations) == 4


def test_the_same_package_again_changes_nothing() -> None:
    package = read_package(text(small_package()))
    plan = first_import(package)
    again = plan_case_import(package, target_after(plan))
    assert (again.created, again.revised, again.retired, again.unchanged) == (0, 0, 0, 3)
    assert again.framework == plan.framework


def test_a_newer_version_revises_adds_and_retires() -> None:
    first = first_import(read_package(text(small_package())))

    def edit(package: dict[str, Any]) -> None:
        package["CFItems"][1]["fullStatement"] = "I can explain M.1"
        package["CFItems"].pop(2)  # M.2 is gone
        package["CFAssociations"] = package["CFAssociations"][:2]
        package["CFItems"].append(item(5, "M.3"))
        package["CFAssociations"].append(child(5, 5, 1))

    plan = plan_case_import(newer(edit), target_after(first))
    assert (plan.created, plan.revised, plan.retired, plan.unchanged) == (1, 1, 1, 1)
    by_code = {o.code: o for o in plan.outcomes.values()}
    assert by_code["M.1"].statement == "I can explain M.1"
    assert by_code["M.2"].retired and not by_code["M.3"].retired


def test_a_retired_item_that_comes_back_is_revived() -> None:
    first = first_import(read_package(text(small_package())))
    key = item(3, "M.2")["identifier"]
    retired = {
        **first.outcomes,
        key: first.outcomes[key].__class__(**{**first.outcomes[key].__dict__, "retired": True}),
    }
    plan = plan_case_import(newer(lambda p: None), target_after(first, outcomes=retired))
    assert not plan.outcomes[key].retired and plan.revised == 1


def test_what_the_catalog_added_survives_a_re_import() -> None:
    first = first_import(read_package(text(small_package())))
    key = item(3, "M.2")["identifier"]
    local = replace(
        first.outcomes[key],
        tags=("academic",),
        scale_id="percent",
        aligned_to=(*first.outcomes[key].aligned_to, "school.m.2"),
    )
    target = target_after(first, outcomes={**first.outcomes, key: local})

    def new_alignment(package: dict[str, Any]) -> None:
        package["CFAssociations"][3]["destinationNodeURI"]["identifier"] = "e-new"

    plan = plan_case_import(newer(new_alignment), target)
    kept = plan.outcomes[key]
    assert kept.tags == ("academic",) and kept.scale_id == "percent"
    assert kept.aligned_to == ("school.m.2", "e-new")  # the CASE alignment was replaced


def test_an_older_package_is_refused() -> None:
    first = first_import(newer(lambda p: None))
    with pytest.raises(InvalidDefinition) as caught:
        plan_case_import(read_package(text(small_package())), target_after(first))
    assert caught.value.field == "CFDocument.lastChangeDateTime"


def test_an_item_that_belongs_to_another_framework_is_refused() -> None:
    package = read_package(text(small_package()))
    owners = {item(2, "M.1")["identifier"]: "ccss-math"}
    with pytest.raises(InvalidDefinition) as caught:
        plan_case_import(package, CaseTarget(DOC, "four", None, {}, owners))
    assert caught.value.field == "CFItems[1].identifier"
    assert "framework 'ccss-math'" in caught.value.description


def test_new_outcomes_need_a_scale() -> None:
    with pytest.raises(InvalidDefinition) as caught:
        first_import(read_package(text(small_package())), scale="")
    assert caught.value.field == "scale_id"


def test_a_framework_holding_another_document_is_not_overwritten() -> None:
    first = first_import(read_package(text(small_package())))
    other = small_package()
    other["CFDocument"]["identifier"] = "f0000000-0000-4000-8000-000000000000"
    for entry in other["CFItems"]:
        entry["CFDocumentURI"]["identifier"] = "f0000000-0000-4000-8000-000000000000"
    other["CFAssociations"][0]["destinationNodeURI"]["identifier"] = (
        "f0000000-0000-4000-8000-000000000000"
    )
    with pytest.raises(InvalidDefinition) as caught:
        plan_case_import(read_package(text(other)), target_after(first))
    assert caught.value.field == "framework_id"


# --- exporting what the catalog made ---------------------------------------------------------


def test_a_framework_made_in_the_catalog_exports_with_stable_generated_identifiers() -> None:
    framework = FrameworkDefinition(
        title="Habits of work",
        groups=(Group("collab", "HOW.C", "Collaboration"),),
    )
    outcomes = {
        "how.c.1": OutcomeDefinition(
            "HOW.C.1", "I can share the work", "four", "how", "collab", aligned_to=("iste.1",)
        ),
        "how.c.2": OutcomeDefinition("HOW.C.2", "Old", "four", "how", "collab", retired=True),
    }
    first = export_package("how", framework, outcomes, {"iste.1": None}, NOW)
    second = export_package("how", framework, outcomes, {"iste.1": None}, NOW)
    assert first == second
    package = read_package(json.dumps(first))
    assert {i.code for i in package.items} == {"HOW.C", "HOW.C.1"}  # retired left out
    by_code = {i.code: i.identifier for i in package.items}
    assert package.placement[by_code["HOW.C.1"]][0] == by_code["HOW.C"]
    alignment = next(a for a in package.associations if a.kind == "exactMatchOf")
    assert alignment.destination == "iste.1"
