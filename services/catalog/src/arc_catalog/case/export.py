"""Exporting a framework as a CASE 1.0 package. Pure.

What came from CASE keeps its identifiers, URIs and every field the catalog does not model;
what was made in the catalog gets stable generated identifiers (UUID v5 of the framework and
the node) and ``urn:uuid:`` URIs. The output has the CASE 1.0 final shape (LinkURI objects,
``educationLevel`` arrays, integer sequence numbers) even when the import did not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from arc_catalog.case.package import ALIGNMENT_TYPES, link_identifier
from arc_catalog.domain.outcomes import CaseRef, FrameworkDefinition, OutcomeDefinition

_NAMESPACE = uuid5(NAMESPACE_URL, "https://masteryarc.org/case")


@dataclass(frozen=True)
class _Node:
    node_id: str
    identifier: str
    uri: str
    title: str


def export_package(
    framework_id: str,
    framework: FrameworkDefinition,
    outcomes: Mapping[str, OutcomeDefinition],
    targets: Mapping[str, CaseRef | None],
    exported_at: datetime,
) -> dict[str, Any]:
    """``outcomes``: the framework's outcomes; ``targets``: what the catalog knows of every
    outcome they are aligned to (None when it is not in the catalog)."""
    case = framework.case
    stamp = case.last_change if case and case.last_change else exported_at.isoformat()
    doc_identifier = case.identifier if case else generated_identifier(framework_id, "")
    doc_uri = case.uri if case else f"urn:uuid:{doc_identifier}"
    document = _document(framework, doc_identifier, doc_uri, stamp)
    doc_link = _link(framework.title, doc_identifier, doc_uri)
    live = {key: value for key, value in outcomes.items() if not value.retired}
    nodes = _nodes(framework_id, framework, live)
    items = [_group_item(g, nodes[g.group_id], doc_link, stamp) for g in framework.groups]
    items += [_outcome_item(o, nodes[key], doc_link, stamp) for key, o in live.items()]
    raw_links = list(case.associations) if case else []
    links = _tree(framework, live, nodes, raw_links, framework_id, doc_link, stamp)
    links += _alignments(live, nodes, targets, raw_links, framework_id, doc_link, stamp)
    links += _others(raw_links, framework, live, nodes, doc_link)
    package: dict[str, Any] = {"CFDocument": document, "CFItems": items, "CFAssociations": links}
    if case and case.definitions:
        package["CFDefinitions"] = dict(case.definitions)
    if case and case.rubrics:
        package["CFRubrics"] = [dict(r) for r in case.rubrics]
    return package


def generated_identifier(framework_id: str, node_id: str) -> str:
    return str(uuid5(_NAMESPACE, f"{framework_id}/{node_id}"))


def _link(title: str, identifier: str, uri: str) -> dict[str, str]:
    return {"title": title, "identifier": identifier, "uri": uri}


def _node(framework_id: str, node_id: str, title: str, case: CaseRef | None) -> _Node:
    if case is not None:
        return _Node(node_id, case.identifier, case.uri, title)
    identifier = generated_identifier(framework_id, node_id)
    return _Node(node_id, identifier, f"urn:uuid:{identifier}", title)


def _nodes(
    framework_id: str, framework: FrameworkDefinition, outcomes: Mapping[str, OutcomeDefinition]
) -> dict[str, _Node]:
    found = {g.group_id: _node(framework_id, g.group_id, g.code, g.case) for g in framework.groups}
    for key, outcome in outcomes.items():
        found[key] = _node(framework_id, key, outcome.code, outcome.case)
    return found


def _document(
    framework: FrameworkDefinition, identifier: str, uri: str, stamp: str
) -> dict[str, Any]:
    raw = dict(framework.case.document) if framework.case else {}
    raw.update(identifier=identifier, uri=uri, title=framework.title, lastChangeDateTime=stamp)
    raw.setdefault("creator", "Mastery Arc")
    raw["CFPackageURI"] = _link(framework.title, identifier, _package_uri(raw, uri))
    _set(raw, "description", framework.description)
    _set(raw, "version", framework.version)
    _set(raw, "adoptionStatus", framework.adoption_status)
    if framework.subject_area and not raw.get("subject"):
        raw["subject"] = [framework.subject_area]
    return raw


def _package_uri(raw: Mapping[str, Any], fallback: str) -> str:
    link = raw.get("CFPackageURI")
    if isinstance(link, Mapping) and isinstance(link.get("uri"), str):
        return str(link["uri"])
    return link if isinstance(link, str) and link else fallback


def _set(raw: dict[str, Any], key: str, value: Any) -> None:
    if value in (None, "", ()):
        raw.pop(key, None)
    else:
        raw[key] = value


def _outcome_item(
    outcome: OutcomeDefinition, node: _Node, doc_link: dict[str, str], stamp: str
) -> dict[str, Any]:
    raw = dict(outcome.case.item) if outcome.case else {}
    raw.pop("educationalLevel", None)
    raw.update(identifier=node.identifier, uri=node.uri, CFDocumentURI=doc_link)
    raw.update(humanCodingScheme=outcome.code, fullStatement=outcome.statement)
    raw.setdefault("lastChangeDateTime", stamp)
    _set(raw, "notes", outcome.description)
    _set(raw, "educationLevel", list(outcome.grade_levels))
    return raw


def _group_item(group: Any, node: _Node, doc_link: dict[str, str], stamp: str) -> dict[str, Any]:
    raw = dict(group.case.item) if group.case else {"CFItemType": "Group"}
    raw.update(identifier=node.identifier, uri=node.uri, CFDocumentURI=doc_link)
    raw.update(humanCodingScheme=group.code, fullStatement=group.title)
    raw.setdefault("lastChangeDateTime", stamp)
    _set(raw, "notes", group.description)
    return raw


def _association(
    framework_id: str,
    kind: str,
    origin: _Node,
    destination: dict[str, str],
    doc_link: dict[str, str],
    stamp: str,
) -> dict[str, Any]:
    identifier = generated_identifier(
        framework_id, f"{origin.node_id}/{kind}/{destination['identifier']}"
    )
    return {
        "identifier": identifier,
        "uri": f"urn:uuid:{identifier}",
        "associationType": kind,
        "originNodeURI": _link(origin.title, origin.identifier, origin.uri),
        "destinationNodeURI": destination,
        "CFDocumentURI": doc_link,
        "lastChangeDateTime": stamp,
    }


def _normalized(raw: Mapping[str, Any], doc_link: dict[str, str]) -> dict[str, Any]:
    link = dict(raw)
    sequence = link.get("sequenceNumber")
    if isinstance(sequence, str):
        if sequence.strip().lstrip("-").isdigit():
            link["sequenceNumber"] = int(sequence)
        else:
            link.pop("sequenceNumber")
    if "CFDocumentURI" in link:
        link["CFDocumentURI"] = doc_link
    return link


def _tree(
    framework: FrameworkDefinition,
    outcomes: Mapping[str, OutcomeDefinition],
    nodes: Mapping[str, _Node],
    raw_links: list[Mapping[str, Any]],
    framework_id: str,
    doc_link: dict[str, str],
    stamp: str,
) -> list[dict[str, Any]]:
    by_id = {str(raw.get("identifier")): raw for raw in raw_links}
    placed: list[tuple[str, str | None, CaseRef | None]] = [
        (g.group_id, g.parent_id, g.case) for g in framework.groups
    ]
    placed += [(key, o.parent_id, o.case) for key, o in outcomes.items()]
    links = []
    for node_id, parent_id, case in placed:
        parent = nodes.get(parent_id) if parent_id else None
        destination = (
            _link(parent.title, parent.identifier, parent.uri) if parent is not None else doc_link
        )
        kept = by_id.get(case.parent_association or "") if case else None
        if (
            kept is not None
            and link_identifier(kept.get("destinationNodeURI")) == destination["identifier"]
        ):
            links.append(_normalized(kept, doc_link))
        else:
            links.append(
                _association(
                    framework_id, "isChildOf", nodes[node_id], destination, doc_link, stamp
                )
            )
    return links


def _alignments(
    outcomes: Mapping[str, OutcomeDefinition],
    nodes: Mapping[str, _Node],
    targets: Mapping[str, CaseRef | None],
    raw_links: list[Mapping[str, Any]],
    framework_id: str,
    doc_link: dict[str, str],
    stamp: str,
) -> list[dict[str, Any]]:
    links = []
    for key, outcome in outcomes.items():
        origin = nodes[key]
        for target in outcome.aligned_to:
            ref = targets.get(target)
            identifier = ref.identifier if ref else target
            kept = next(
                (
                    raw
                    for raw in raw_links
                    if raw.get("associationType") in ALIGNMENT_TYPES
                    and link_identifier(raw.get("originNodeURI")) == origin.identifier
                    and link_identifier(raw.get("destinationNodeURI")) == identifier
                ),
                None,
            )
            if kept is not None:
                links.append(_normalized(kept, doc_link))
                continue
            uri = ref.uri if ref else f"urn:uuid:{identifier}"
            destination = _link(target, identifier, uri)
            links.append(
                _association(framework_id, "exactMatchOf", origin, destination, doc_link, stamp)
            )
    return links


def _others(
    raw_links: list[Mapping[str, Any]],
    framework: FrameworkDefinition,
    outcomes: Mapping[str, OutcomeDefinition],
    nodes: Mapping[str, _Node],
    doc_link: dict[str, str],
) -> list[dict[str, Any]]:
    """Associations the catalog does not model (precedes, exemplar, a second parent…), kept
    verbatim while their origin is still in the framework."""
    tree_edges = {o.case.parent_association for o in outcomes.values() if o.case}
    tree_edges |= {g.case.parent_association for g in framework.groups if g.case}
    outcome_identifiers = {nodes[key].identifier for key in outcomes}
    present = {node.identifier for node in nodes.values()} | {doc_link["identifier"]}
    kept = []
    for raw in raw_links:
        origin = link_identifier(raw.get("originNodeURI"))
        if raw.get("identifier") in tree_edges or origin not in present:
            continue
        if raw.get("associationType") in ALIGNMENT_TYPES and origin in outcome_identifiers:
            continue
        kept.append(_normalized(raw, doc_link))
    return kept
