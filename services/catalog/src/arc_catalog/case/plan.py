"""Planning a CASE import against what the catalog already holds. Pure.

Every CFItem becomes an outcome whose id is the item's CASE identifier, filed under its parent
item (or at the top of the framework). Re-importing a newer package of the same document gives
revisions of what changed, retires outcomes the package no longer has, and keeps what the
catalog added locally (tags, scale, alignments made in the catalog, groups).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC

from arc_catalog.case.package import (
    ALIGNMENT_TYPES,
    CasePackage,
    link_identifier,
    parse_case_datetime,
)
from arc_catalog.domain.errors import InvalidDefinition, Violation
from arc_catalog.domain.outcomes import (
    CaseDocument,
    CaseRef,
    FrameworkDefinition,
    OutcomeDefinition,
)


@dataclass(frozen=True)
class CaseTarget:
    """Where the import goes and what is already there."""

    framework_id: str
    scale_id: str | None
    framework: FrameworkDefinition | None
    #: outcomes currently filed in that framework
    outcomes: Mapping[str, OutcomeDefinition]
    #: for item identifiers that already exist as outcomes anywhere: their framework
    owners: Mapping[str, str | None]


@dataclass(frozen=True)
class CasePlan:
    framework: FrameworkDefinition
    outcomes: Mapping[str, OutcomeDefinition]  # every outcome the import touches, as it should be
    created: int
    revised: int
    retired: int
    unchanged: int


def plan_case_import(package: CasePackage, target: CaseTarget) -> CasePlan:
    _refuse_conflicts(package, target)
    previous_alignments = _case_alignments(target.framework)
    current_alignments = _alignments(package)
    wanted: dict[str, OutcomeDefinition] = {}
    counts = {"created": 0, "revised": 0, "retired": 0, "unchanged": 0}
    for item in package.items:
        existing = target.outcomes.get(item.identifier)
        parent, association = package.placement[item.identifier]
        local = tuple(
            a
            for a in (existing.aligned_to if existing else ())
            if a not in previous_alignments.get(item.identifier, ())
        )
        definition = OutcomeDefinition(
            code=item.code,
            statement=item.statement,
            scale_id=existing.scale_id if existing else (target.scale_id or ""),
            framework_id=target.framework_id,
            parent_id=parent,
            description=item.notes,
            grade_levels=item.grade_levels,
            subject_area=package.document.subjects[0] if package.document.subjects else None,
            tags=existing.tags if existing else (),
            aligned_to=tuple(dict.fromkeys((*local, *current_alignments.get(item.identifier, ())))),
            retired=False,
            case=CaseRef(item.identifier, item.uri, item.raw, association),
        )
        wanted[item.identifier] = definition
        counts[_change(existing, definition)] += 1
    for outcome_id, existing in target.outcomes.items():
        if outcome_id not in wanted:
            retired = replace(existing, retired=True)
            wanted[outcome_id] = retired
            counts["retired" if not existing.retired else "unchanged"] += 1
    return CasePlan(framework=_framework(package, target), outcomes=wanted, **counts)


def _change(existing: OutcomeDefinition | None, wanted: OutcomeDefinition) -> str:
    if existing is None:
        return "created"
    return "unchanged" if existing == wanted else "revised"


def _refuse_conflicts(package: CasePackage, target: CaseTarget) -> None:
    problems: list[Violation] = []
    held = target.framework.case if target.framework else None
    if held is not None and held.identifier != package.document.identifier:
        problems.append(
            Violation(
                "framework_id",
                f"{target.framework_id!r} holds CASE document {held.identifier}, "
                f"not {package.document.identifier}",
            )
        )
    newer = package.document.last_change
    if (
        held is not None
        and held.last_change
        and newer
        and newer < parse_case_datetime(held.last_change)
    ):
        problems.append(
            Violation(
                "CFDocument.lastChangeDateTime",
                f"this package ({newer.isoformat()}) is older than the one already imported "
                f"({held.last_change})",
            )
        )
    for index, item in enumerate(package.items):
        owner = target.owners.get(item.identifier, target.framework_id)
        if owner != target.framework_id:
            where = f"framework {owner!r}" if owner else "no framework"
            problems.append(
                Violation(
                    f"CFItems[{index}].identifier",
                    f"outcome {item.identifier} already exists, in {where}",
                )
            )
    creates = any(item.identifier not in target.outcomes for item in package.items)
    if creates and not target.scale_id:
        problems.append(
            Violation("scale_id", "name the scale for new outcomes (the network has no default)")
        )
    if problems:
        raise InvalidDefinition(problems)


def _alignments(package: CasePackage) -> dict[str, tuple[str, ...]]:
    items = {item.identifier for item in package.items}
    found: dict[str, list[str]] = {}
    for link in package.associations:
        if link.kind in ALIGNMENT_TYPES and link.origin in items:
            found.setdefault(link.origin, []).append(link.destination)
    return {origin: tuple(dict.fromkeys(targets)) for origin, targets in found.items()}


def _case_alignments(framework: FrameworkDefinition | None) -> dict[str, tuple[str, ...]]:
    if framework is None or framework.case is None:
        return {}
    found: dict[str, list[str]] = {}
    for raw in framework.case.associations:
        origin = link_identifier(raw.get("originNodeURI"))
        target = link_identifier(raw.get("destinationNodeURI"))
        if raw.get("associationType") in ALIGNMENT_TYPES and origin and target:
            found.setdefault(origin, []).append(target)
    return {origin: tuple(targets) for origin, targets in found.items()}


def _framework(package: CasePackage, target: CaseTarget) -> FrameworkDefinition:
    document = package.document
    return FrameworkDefinition(
        title=document.title,
        description=document.description,
        subject_area=document.subjects[0] if document.subjects else None,
        version=document.version,
        adoption_status=document.adoption_status,
        groups=target.framework.groups if target.framework else (),
        case=CaseDocument(
            identifier=document.identifier,
            uri=document.uri,
            last_change=document.last_change.astimezone(UTC).isoformat()
            if document.last_change
            else None,
            document=document.raw,
            associations=tuple(link.raw for link in package.associations),
            definitions=package.definitions,
            rubrics=package.rubrics,
        ),
    )
