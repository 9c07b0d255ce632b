"""Catalog lookups for the application: none at all (a relay-only process), or remembered for
the length of one request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from arc_evidence.rules import CatalogLookup, KnownOutcome, KnownSection, StudentStanding


class NoCatalog:
    """Knows no outcome and no student (a relay-only process never checks anything)."""

    def outcome(self, outcome_id: str) -> KnownOutcome | None:
        return None

    def outcome_by_code(self, code: str) -> KnownOutcome | None:
        return None

    def outcomes_aligned_to(self, uri: str) -> list[KnownOutcome]:
        return []

    def student(self, student_id: str) -> StudentStanding:
        return "unknown"

    def section(self, section_id: str) -> KnownSection | None:
        return None


class MemoCatalog:
    """Remembers lookups for the length of one request (a class of 30 on one outcome asks the
    same question 30 times)."""

    def __init__(self, catalog: CatalogLookup) -> None:
        self.catalog = catalog
        self._memo: dict[tuple[str, str], Any] = {}

    def _get(self, kind: str, key: str, load: Callable[[str], Any]) -> Any:
        if (kind, key) not in self._memo:
            self._memo[(kind, key)] = load(key)
        return self._memo[(kind, key)]

    def outcome(self, outcome_id: str) -> KnownOutcome | None:
        found: KnownOutcome | None = self._get("outcome", outcome_id, self.catalog.outcome)
        return found

    def outcome_by_code(self, code: str) -> KnownOutcome | None:
        found: KnownOutcome | None = self._get("code", code, self.catalog.outcome_by_code)
        return found

    def outcomes_aligned_to(self, uri: str) -> list[KnownOutcome]:
        found: list[KnownOutcome] = self._get("uri", uri, self.catalog.outcomes_aligned_to)
        return found

    def student(self, student_id: str) -> StudentStanding:
        found: StudentStanding = self._get("student", student_id, self.catalog.student)
        return found

    def section(self, section_id: str) -> KnownSection | None:
        found: KnownSection | None = self._get("section", section_id, self.catalog.section)
        return found
