"""Reading a CASE 1.0 package (CFPackage JSON: CFDocument, CFItems, CFAssociations,
CFDefinitions, CFRubrics). Pure: text in, a checked :class:`CasePackage` out, or
:class:`InvalidDefinition` listing every problem by its JSON path (``CFItems[3].fullStatement``).

Lenient where real exports differ from the final 1.0 schema (string ``CFDocumentURI`` and
``CFPackageURI``, ``educationalLevel`` instead of ``educationLevel``, string sequence numbers,
times without a zone); strict where a package would import wrongly: missing identifiers or
statements, duplicate identifiers, items of another document, and hierarchy links
(``isChildOf``) to items the package does not hold — a partial package is refused whole.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from arc_catalog.domain.errors import InvalidDefinition, Violation

ASSOCIATION_TYPES = (
    "isChildOf",
    "isPeerOf",
    "isPartOf",
    "exactMatchOf",
    "precedes",
    "isRelatedTo",
    "replacedBy",
    "exemplar",
    "hasSkillLevel",
    "isTranslationOf",
)
#: Association types that align an outcome to another (a crosswalk), kept as ``aligned_to``.
ALIGNMENT_TYPES = ("exactMatchOf", "isPeerOf", "isRelatedTo")
MAX_REPORTED = 200


@dataclass(frozen=True)
class CaseDoc:
    identifier: str
    uri: str
    title: str
    description: str | None
    subjects: tuple[str, ...]
    version: str | None
    adoption_status: str | None
    last_change: datetime | None
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class CaseItem:
    identifier: str
    uri: str
    code: str
    statement: str
    notes: str | None
    grade_levels: tuple[str, ...]
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class CaseAssociation:
    identifier: str
    kind: str
    origin: str
    destination: str
    sequence: int | None
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class CasePackage:
    document: CaseDoc
    items: tuple[CaseItem, ...]
    associations: tuple[CaseAssociation, ...]
    definitions: Mapping[str, Any]
    rubrics: tuple[Mapping[str, Any], ...]
    #: item identifier -> (parent item identifier, or None for the document; isChildOf id)
    placement: Mapping[str, tuple[str | None, str | None]]
    warnings: tuple[Violation, ...] = ()

    def children_of(self, parent: str | None) -> list[CaseItem]:
        return [item for item in self.items if self.placement[item.identifier][0] == parent]


def parse_case_datetime(value: Any) -> datetime:
    """ISO 8601 date-time; one without a zone is taken as UTC."""
    if not isinstance(value, str):
        raise ValueError("not a date-time string")
    parsed = datetime.fromisoformat(value.strip())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def read_package(text: str | bytes) -> CasePackage:
    """Parse and check a whole package; raise :class:`InvalidDefinition` listing every problem."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidDefinition(
            "package", f"not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except UnicodeDecodeError as exc:
        raise InvalidDefinition("package", f"not UTF-8 text: {exc.reason}") from None
    reader = _Reader()
    package = reader.package(data)
    if reader.problems or package is None:
        raise InvalidDefinition(reader.problems[:MAX_REPORTED] or [Violation("package", "empty")])
    return package


def link_identifier(value: Any) -> str | None:
    """The identifier of a LinkURI object ``{title, identifier, uri}``."""
    if isinstance(value, Mapping) and isinstance(value.get("identifier"), str):
        return value["identifier"].strip() or None
    return None


class _Reader:
    def __init__(self) -> None:
        self.problems: list[Violation] = []
        self.warnings: list[Violation] = []

    def fail(self, field: str, description: str) -> None:
        self.problems.append(Violation(field, description))

    def package(self, data: Any) -> CasePackage | None:
        if not isinstance(data, Mapping):
            self.fail("package", "a CASE package is a JSON object with CFDocument and CFItems")
            return None
        document = self.document(data.get("CFDocument"))
        items_raw = self.array(data, "CFItems")
        associations_raw = self.array(data, "CFAssociations")
        rubrics = tuple(self.array(data, "CFRubrics"))
        definitions = data.get("CFDefinitions") or {}
        if not isinstance(definitions, Mapping):
            self.fail("CFDefinitions", "must be an object")
            definitions = {}
        if document is None:
            return None
        items = [self.item(i, raw, document) for i, raw in enumerate(items_raw)]
        known_items = [item for item in items if item is not None]
        self.unique("CFItems", [item.identifier for item in known_items], document.identifier)
        associations = [
            self.association(j, raw, document) for j, raw in enumerate(associations_raw)
        ]
        known_associations = [a for a in associations if a is not None]
        self.unique("CFAssociations", [a.identifier for a in known_associations], None)
        ids = {item.identifier for item in known_items}
        placement = self.placement(known_items, associations, document.identifier, ids)
        self.rubrics(rubrics, ids)
        return CasePackage(
            document=document,
            items=tuple(known_items),
            associations=tuple(known_associations),
            definitions=dict(definitions),
            rubrics=rubrics,
            placement=placement,
            warnings=tuple(self.warnings),
        )

    def array(self, data: Mapping[str, Any], name: str) -> list[Any]:
        value = data.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(name, "must be an array")
            return []
        return value

    def text(self, raw: Mapping[str, Any], at: str, name: str, required: bool) -> str | None:
        value = raw.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.fail(f"{at}.{name}", "is required")
            return None
        if not isinstance(value, str):
            self.fail(f"{at}.{name}", "must be a string")
            return None
        return value.strip()

    def moment(self, raw: Mapping[str, Any], at: str) -> datetime | None:
        value = raw.get("lastChangeDateTime")
        if value is None:
            return None
        try:
            return parse_case_datetime(value)
        except ValueError:
            self.fail(f"{at}.lastChangeDateTime", f"{value!r} is not an ISO 8601 date-time")
            return None

    def document(self, raw: Any) -> CaseDoc | None:
        if raw is None:
            self.fail("CFDocument", "is required")
            return None
        if not isinstance(raw, Mapping):
            self.fail("CFDocument", "must be an object")
            return None
        identifier = self.text(raw, "CFDocument", "identifier", True)
        uri = self.text(raw, "CFDocument", "uri", True)
        title = self.text(raw, "CFDocument", "title", True)
        last_change = self.moment(raw, "CFDocument")
        subjects = raw.get("subject") or []
        if isinstance(subjects, str):
            subjects = [subjects]
        if not isinstance(subjects, list) or not all(isinstance(s, str) for s in subjects):
            self.fail("CFDocument.subject", "must be an array of strings")
            subjects = []
        if raw.get("creator") is None:
            self.warnings.append(Violation("CFDocument.creator", "missing (CASE requires it)"))
        if identifier is None or uri is None or title is None:
            return None
        return CaseDoc(
            identifier=identifier,
            uri=uri,
            title=title,
            description=self.text(raw, "CFDocument", "description", False),
            subjects=tuple(s.strip() for s in subjects if s.strip()),
            version=self.text(raw, "CFDocument", "version", False),
            adoption_status=self.text(raw, "CFDocument", "adoptionStatus", False),
            last_change=last_change,
            raw=dict(raw),
        )

    def belongs(self, raw: Mapping[str, Any], at: str, document: CaseDoc) -> None:
        link = raw.get("CFDocumentURI")
        if link is None:
            return
        owner = link_identifier(link)
        if isinstance(link, str):
            if link.strip() not in (document.uri, _package_uri(document.raw)):
                self.fail(f"{at}.CFDocumentURI", f"{link!r} is not this package's document")
        elif owner is None:
            self.fail(f"{at}.CFDocumentURI", "must be a LinkURI with an identifier, or a URI")
        elif owner != document.identifier:
            self.fail(
                f"{at}.CFDocumentURI",
                f"belongs to document {owner}, not to this package's {document.identifier}",
            )

    def item(self, index: int, raw: Any, document: CaseDoc) -> CaseItem | None:
        at = f"CFItems[{index}]"
        if not isinstance(raw, Mapping):
            self.fail(at, "must be an object")
            return None
        identifier = self.text(raw, at, "identifier", True)
        uri = self.text(raw, at, "uri", True)
        statement = self.text(raw, at, "fullStatement", True)
        code = self.text(raw, at, "humanCodingScheme", False)
        notes = self.text(raw, at, "notes", False)
        self.moment(raw, at)
        self.belongs(raw, at, document)
        levels = self.levels(raw, at)
        if identifier is None or uri is None or statement is None:
            return None
        return CaseItem(
            identifier=identifier,
            uri=uri,
            code=code or identifier,
            statement=statement,
            notes=notes,
            grade_levels=levels,
            raw=dict(raw),
        )

    def levels(self, raw: Mapping[str, Any], at: str) -> tuple[str, ...]:
        name = "educationLevel" if "educationLevel" in raw else "educationalLevel"
        value = raw.get(name)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [part for part in value.split(",")]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(f"{at}.{name}", "must be an array of grade levels")
            return ()
        return tuple(v.strip() for v in value if v.strip())

    def association(self, index: int, raw: Any, document: CaseDoc) -> CaseAssociation | None:
        at = f"CFAssociations[{index}]"
        if not isinstance(raw, Mapping):
            self.fail(at, "must be an object")
            return None
        identifier = self.text(raw, at, "identifier", True)
        kind = self.text(raw, at, "associationType", True)
        if kind is not None and kind not in ASSOCIATION_TYPES and not kind.startswith("ext:"):
            self.fail(f"{at}.associationType", f"{kind!r} is not a CASE association type")
        ends = []
        for end in ("originNodeURI", "destinationNodeURI"):
            found = link_identifier(raw.get(end))
            if found is None:
                self.fail(f"{at}.{end}", "must be a LinkURI with an identifier")
            ends.append(found)
        sequence = self.sequence(raw, at)
        self.moment(raw, at)
        self.belongs(raw, at, document)
        if identifier is None or kind is None or ends[0] is None or ends[1] is None:
            return None
        return CaseAssociation(identifier, kind, ends[0], ends[1], sequence, dict(raw))

    def sequence(self, raw: Mapping[str, Any], at: str) -> int | None:
        value = raw.get("sequenceNumber")
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            value = None
        elif isinstance(value, int):
            return value
        elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value.strip())
        self.fail(f"{at}.sequenceNumber", f"{raw.get('sequenceNumber')!r} is not a whole number")
        return None

    def unique(self, name: str, identifiers: list[str], document_id: str | None) -> None:
        first: dict[str, int] = {}
        for index, identifier in enumerate(identifiers):
            if identifier == document_id:
                self.fail(f"{name}[{index}].identifier", "is the document's own identifier")
            if identifier in first:
                self.fail(
                    f"{name}[{index}].identifier",
                    f"{identifier} is already used by {name}[{first[identifier]}]",
                )
            first.setdefault(identifier, index)

    def placement(
        self,
        items: list[CaseItem],
        associations: list[CaseAssociation | None],
        document_id: str,
        ids: set[str],
    ) -> dict[str, tuple[str | None, str | None]]:
        placed: dict[str, tuple[str | None, str | None]] = {}
        for index, link in enumerate(associations):
            if link is None or link.kind != "isChildOf":
                continue
            at = f"CFAssociations[{index}]"
            if link.origin not in ids:
                self.fail(f"{at}.originNodeURI", f"isChildOf from {link.origin}, not an item here")
                continue
            if link.destination not in ids and link.destination != document_id:
                self.fail(
                    f"{at}.destinationNodeURI",
                    f"parent {link.destination} is neither an item of this package nor its "
                    "document (a partial package?)",
                )
                continue
            parent = None if link.destination == document_id else link.destination
            if parent == link.origin:
                self.fail(f"{at}.destinationNodeURI", "an item is not its own parent")
                continue
            if link.origin not in placed and not self.closes_loop(link.origin, parent, placed):
                placed[link.origin] = (parent, link.identifier)
            elif link.origin not in placed:
                self.fail(f"{at}.destinationNodeURI", "this isChildOf makes a loop")
        for index, item in enumerate(items):
            if item.identifier not in placed:
                self.warnings.append(
                    Violation(
                        f"CFItems[{index}]", "no isChildOf: filed at the top of the framework"
                    )
                )
                placed[item.identifier] = (None, None)
        return placed

    @staticmethod
    def closes_loop(
        origin: str, parent: str | None, placed: Mapping[str, tuple[str | None, str | None]]
    ) -> bool:
        node = parent
        while node is not None:
            if node == origin:
                return True
            node = placed.get(node, (None, None))[0]
        return False

    def rubrics(self, rubrics: tuple[Any, ...], ids: set[str]) -> None:
        for index, rubric in enumerate(rubrics):
            at = f"CFRubrics[{index}]"
            if not isinstance(rubric, Mapping):
                self.fail(at, "must be an object")
                continue
            self.text(rubric, at, "identifier", True)
            criteria = rubric.get("CFRubricCriteria") or []
            if not isinstance(criteria, list):
                self.fail(f"{at}.CFRubricCriteria", "must be an array")
                continue
            for number, criterion in enumerate(criteria):
                item = (
                    link_identifier(criterion.get("CFItemURI"))
                    if isinstance(criterion, Mapping)
                    else None
                )
                if item is not None and item not in ids:
                    self.fail(
                        f"{at}.CFRubricCriteria[{number}].CFItemURI",
                        f"item {item} is not in this package",
                    )


def _package_uri(document: Mapping[str, Any]) -> str | None:
    link = document.get("CFPackageURI")
    if isinstance(link, str):
        return link.strip()
    if isinstance(link, Mapping) and isinstance(link.get("uri"), str):
        return str(link["uri"]).strip()
    return None
