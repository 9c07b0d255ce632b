"""The start page: who and what reporting knows (schools, sections, people), with links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from arc_reporting.domain.vocabulary import Vocabulary
from arc_reporting.read_model import ReportingReadModel
from arc_reporting.views.common import Config, vocabulary
from arc_reporting.views.section import SectionSummary, summary


@dataclass
class Directory:
    as_of: datetime | None
    words: Vocabulary
    schools: list[tuple[str, str]]
    sections: list[SectionSummary]
    students: list[tuple[str, str]]
    teachers: list[tuple[str, str]]
    guardians: list[tuple[str, str]]


def directory(model: ReportingReadModel, config: Config, as_of: datetime | None) -> Directory:
    catalog = model.catalog(as_of)

    def people(role: str) -> list[tuple[str, str]]:
        found = [p for p in catalog.people.values() if p.role == role and p.active]
        return [
            (p.person_id, catalog.name_of(p.person_id))
            for p in sorted(found, key=lambda p: catalog.sort_name(p.person_id))
        ]

    return Directory(
        as_of,
        vocabulary(catalog, config),
        [(s, catalog.school_name(s)) for s in catalog.schools()],
        [summary(catalog, s) for s in catalog.sections_in()],
        people("student"),
        people("teacher"),
        people("guardian"),
    )
