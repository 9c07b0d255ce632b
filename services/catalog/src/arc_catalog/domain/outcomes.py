"""Outcome frameworks: a framework holds groups (domains, strands) and outcomes, and outcomes
may sit under a group or under a parent outcome. Pure Python.

"Outcome" is the one word of the API; what a network calls it on screen (competency, standard,
learning target) is a label in :mod:`arc_catalog.domain.settings`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from arc_catalog.domain.errors import (
    Violation,
    clean_tags,
    duplicates,
    id_problems,
    text_problems,
)


@dataclass(frozen=True)
class CaseRef:
    """Where a CASE item came from, kept so that an export gives back the same identifiers."""

    identifier: str
    uri: str
    #: The CFItem's other fields (abbreviatedStatement, CFItemType, language…), as imported.
    item: Mapping[str, Any] = field(default_factory=dict)
    #: Identifier of the isChildOf association that placed the item in the tree.
    parent_association: str | None = None


@dataclass(frozen=True)
class OutcomeDefinition:
    code: str
    statement: str
    scale_id: str
    framework_id: str | None = None
    parent_id: str | None = None
    description: str | None = None
    grade_levels: tuple[str, ...] = ()
    subject_area: str | None = None
    tags: tuple[str, ...] = ()
    aligned_to: tuple[str, ...] = ()
    retired: bool = False
    case: CaseRef | None = None


def normalized_outcome(definition: OutcomeDefinition) -> OutcomeDefinition:
    """Trimmed text, clean tags, empty optional text as None."""
    return replace(
        definition,
        code=definition.code.strip(),
        statement=definition.statement.strip(),
        scale_id=definition.scale_id.strip(),
        framework_id=_optional(definition.framework_id),
        parent_id=_optional(definition.parent_id),
        description=_optional(definition.description),
        subject_area=_optional(definition.subject_area),
        grade_levels=tuple(g.strip() for g in definition.grade_levels if g.strip()),
        tags=clean_tags(definition.tags),
        aligned_to=tuple(dict.fromkeys(a.strip() for a in definition.aligned_to if a.strip())),
    )


def outcome_problems(outcome_id: str, definition: OutcomeDefinition) -> list[Violation]:
    """Rules one outcome must keep on its own (references are checked by the application)."""
    problems = id_problems("outcome_id", outcome_id)
    problems += text_problems("code", definition.code, limit=100)
    problems += text_problems("statement", definition.statement)
    problems += id_problems("scale_id", definition.scale_id)
    if definition.parent_id == outcome_id:
        problems.append(Violation("parent_id", "an outcome cannot be its own parent"))
    if definition.parent_id and not definition.framework_id:
        problems.append(Violation("parent_id", "only an outcome in a framework has a parent"))
    for index, target in enumerate(definition.aligned_to):
        if target == outcome_id:
            problems.append(
                Violation(f"aligned_to[{index}]", "an outcome is not aligned to itself")
            )
    return problems


@dataclass(frozen=True)
class Group:
    """A domain, strand or any other heading that outcomes are filed under."""

    group_id: str
    code: str
    title: str
    description: str | None = None
    parent_id: str | None = None
    case: CaseRef | None = None


@dataclass(frozen=True)
class CaseDocument:
    """What a CASE package held beyond its items, kept for the round trip."""

    identifier: str
    uri: str
    last_change: str | None = None
    document: Mapping[str, Any] = field(default_factory=dict)
    associations: tuple[Mapping[str, Any], ...] = ()
    definitions: Mapping[str, Any] = field(default_factory=dict)
    rubrics: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class FrameworkDefinition:
    title: str
    description: str | None = None
    subject_area: str | None = None
    version: str | None = None
    adoption_status: str | None = None
    groups: tuple[Group, ...] = ()
    case: CaseDocument | None = None

    def group(self, group_id: str) -> Group | None:
        return next((g for g in self.groups if g.group_id == group_id), None)


def framework_problems(framework_id: str, definition: FrameworkDefinition) -> list[Violation]:
    problems = id_problems("framework_id", framework_id)
    problems += text_problems("title", definition.title, limit=500)
    ids = [group.group_id for group in definition.groups]
    for repeated in duplicates(ids):
        problems.append(Violation("groups", f"the group id {repeated!r} is used twice"))
    known = set(ids)
    for index, group in enumerate(definition.groups):
        at = f"groups[{index}]"
        problems += id_problems(f"{at}.group_id", group.group_id)
        problems += text_problems(f"{at}.title", group.title, limit=2000)
        if group.parent_id is not None and group.parent_id not in known:
            problems.append(Violation(f"{at}.parent_id", f"no group {group.parent_id!r} here"))
    cycle = _first_cycle({g.group_id: g.parent_id for g in definition.groups})
    if cycle:
        problems.append(Violation("groups", f"groups form a cycle: {' → '.join(cycle)}"))
    return problems


def _first_cycle(parents: Mapping[str, str | None]) -> list[str] | None:
    for start in parents:
        path = [start]
        node = parents.get(start)
        while node is not None and node in parents:
            if node in path:
                return [*path[path.index(node) :], node]
            path.append(node)
            node = parents.get(node)
    return None


def parent_chain_problem(
    outcome_id: str, parent_id: str | None, parent_of: Mapping[str, str | None]
) -> Violation | None:
    """Whether making ``parent_id`` the parent of ``outcome_id`` would close a loop, given the
    current parents of the other outcomes of the framework."""
    node = parent_id
    seen: set[str] = set()
    while node is not None and node not in seen:
        if node == outcome_id:
            return Violation("parent_id", f"{parent_id!r} is already under {outcome_id!r}")
        seen.add(node)
        node = parent_of.get(node)
    return None


def _optional(text: str | None) -> str | None:
    return text.strip() if text and text.strip() else None
