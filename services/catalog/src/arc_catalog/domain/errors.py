"""What every catalog rule reports: the field at fault and why. Pure Python."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    """One broken rule; ``field`` is a path such as ``scale.levels[2].colour``."""

    field: str
    description: str

    def __str__(self) -> str:
        return f"{self.field}: {self.description}"


class InvalidDefinition(ValueError):
    """Input that breaks catalog rules. Lists every violation found, not only the first."""

    def __init__(self, violations: Sequence[Violation] | str, description: str = "") -> None:
        found = (
            (Violation(violations, description),)
            if isinstance(violations, str)
            else tuple(violations)
        )
        if not found:
            raise ValueError("InvalidDefinition needs at least one violation")
        super().__init__("; ".join(str(v) for v in found))
        self.violations = found

    @property
    def field(self) -> str:
        return self.violations[0].field

    @property
    def description(self) -> str:
        return self.violations[0].description


class NotFound(LookupError):
    """A query or command named something the catalog does not hold."""

    def __init__(
        self, kind: str, key: str, field: str | None = None, revision: int | None = None
    ) -> None:
        at = f" at revision {revision}" if revision is not None else ""
        super().__init__(f"no {kind} {key!r}{at}")
        self.kind = kind
        self.key = key
        self.field = field or f"{kind}_id"


def raise_if_any(violations: Iterable[Violation]) -> None:
    found = list(violations)
    if found:
        raise InvalidDefinition(found)


#: Identifiers: letters, digits and . _ : - (CASE UUIDs and OneRoster sourcedIds fit).
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,199}$")


def id_problems(field: str, value: str) -> list[Violation]:
    if not value:
        return [Violation(field, "must not be empty")]
    if not _ID.match(value):
        return [
            Violation(
                field,
                f"{value!r} is not an id: use up to 200 letters, digits, '.', '_', ':' or '-'",
            )
        ]
    return []


def text_problems(field: str, value: str | None, *, limit: int = 10_000) -> list[Violation]:
    """Required text: not blank, not longer than ``limit``."""
    if value is None or not value.strip():
        return [Violation(field, "must not be empty")]
    if len(value) > limit:
        return [Violation(field, f"is {len(value)} characters long; the limit is {limit}")]
    return []


def duplicates(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for value in values:
        if value in seen and value not in repeated:
            repeated.append(value)
        seen.add(value)
    return repeated


def slug(text: str) -> str:
    """An id made from a human code or name: ``"ISTE 1.3.a"`` → ``"iste-1.3.a"``."""
    cleaned = re.sub(r"[^a-z0-9._:\-]+", "-", text.strip().lower()).strip("-")
    return cleaned[:200]


def clean_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Tags are lower-case words joined by hyphens, each once, in the order given."""
    result: list[str] = []
    for tag in tags:
        cleaned = re.sub(r"[\s_]+", "-", tag.strip().lower())
        if cleaned and cleaned not in result:
            result.append(cleaned)
    return tuple(result)
