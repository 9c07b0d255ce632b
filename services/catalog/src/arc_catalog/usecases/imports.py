"""Imports: a CASE package into a framework, a OneRoster CSV bulk set into courses, terms,
schools, sections and people. Each is all or nothing: every row and item is checked first, then
every change is saved in one ``save`` call, which is one transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from arc_catalog.case.package import read_package
from arc_catalog.case.plan import CaseTarget, plan_case_import
from arc_catalog.core import CatalogCore, Progress, checked, no_progress
from arc_catalog.domain.errors import Violation, id_problems
from arc_catalog.domain.outcomes import framework_problems, outcome_problems
from arc_catalog.domain.records import (
    CourseRecord,
    FrameworkRecord,
    OrgRecord,
    OutcomeRecord,
    OutcomeState,
    PersonRecord,
    Record,
    ScaleSnapshot,
    SectionRecord,
    TermRecord,
    from_primitive,
)
from arc_catalog.domain.rosters import (
    course_problems,
    org_problems,
    person_problems,
    section_problems,
    term_problems,
)
from arc_catalog.oneroster.bulkset import RosterSet, read_bulk_set

R = TypeVar("R", bound=Record)


@dataclass
class Counts:
    created: int = 0
    revised: int = 0
    unchanged: int = 0
    retired: int = 0

    def count(self, record: Record) -> None:
        if record.revision == 1 and record.pending_events:
            self.created += 1
        elif record.pending_events:
            self.revised += 1
        else:
            self.unchanged += 1


@dataclass(frozen=True)
class ImportResult:
    target: str  # the framework id, or "roster"
    counts: Mapping[str, Counts]
    position: int | None
    warnings: tuple[str, ...] = field(default_factory=tuple)


#: outcome_problems' fields, as the CFItem fields they come from
_ITEM_FIELDS = {
    "outcome_id": "identifier",
    "code": "humanCodingScheme",
    "statement": "fullStatement",
}


class ImportCases(CatalogCore):
    def import_case(
        self,
        content: str | bytes,
        framework_id: str | None = None,
        scale_id: str | None = None,
        traceparent: str = "",
        progress: Progress = no_progress,
    ) -> ImportResult:
        """Import a CASE package; a newer version of an imported one records revisions."""
        progress("check", 0, 1)
        package = read_package(content)
        with self.writing():
            framework_id = (framework_id or "").strip() or package.document.identifier
            checked(id_problems("framework_id", framework_id))
            framework = self.load(FrameworkRecord, framework_id)
            scale_id = (scale_id or "").strip() or self.settings().value.default_scale_id
            snapshots: dict[str, ScaleSnapshot] = {}
            if scale_id:
                snapshots[scale_id] = self.scale_snapshot(scale_id)
            current = {
                entry.key: from_primitive(OutcomeState, entry.data).definition
                for entry in self.index.entries("outcome", {"framework": framework_id})
            }
            owners = {}
            for item in package.items:
                state = self.outcome_state(item.identifier)
                if state is not None:
                    owners[item.identifier] = state.definition.framework_id
            plan = plan_case_import(
                package,
                CaseTarget(
                    framework_id, scale_id, framework.state if framework else None, current, owners
                ),
            )
            positions = {item.identifier: i for i, item in enumerate(package.items)}
            problems = framework_problems(framework_id, plan.framework)
            for key, definition in plan.outcomes.items():
                at = f"CFItems[{positions[key]}]" if key in positions else f"outcomes.{key}"
                problems += [
                    Violation(f"{at}.{_ITEM_FIELDS.get(v.field, v.field)}", v.description)
                    for v in outcome_problems(key, definition)
                ]
            checked(problems)
            progress("check", 1, 1)
            records: list[Record] = [
                self.put(FrameworkRecord, framework_id, plan.framework, traceparent, framework)
            ]
            for done, (key, definition) in enumerate(plan.outcomes.items(), 1):
                if definition.scale_id not in snapshots:
                    snapshots[definition.scale_id] = self.scale_snapshot(definition.scale_id)
                state = OutcomeState(definition, snapshots[definition.scale_id])
                records.append(self.put(OutcomeRecord, key, state, traceparent))
                progress("prepare", done, len(plan.outcomes))
            counts = {"frameworks": Counts(), "outcomes": Counts()}
            counts["frameworks"].count(records[0])
            for record in records[1:]:
                counts["outcomes"].count(record)
            counts["outcomes"].retired = plan.retired
            counts["outcomes"].revised -= plan.retired
            progress("save", 0, 1)
            position = self.save(*records)
            progress("save", 1, 1)
        return ImportResult(framework_id, counts, position, tuple(str(w) for w in package.warnings))

    def import_oneroster(
        self,
        files: Mapping[str, bytes],
        traceparent: str = "",
        progress: Progress = no_progress,
    ) -> ImportResult:
        """Import a OneRoster bulk set. People an earlier set brought in and this one lacks
        are made inactive; sections it lacks lose their roster."""
        progress("check", 0, 1)
        roster = read_bulk_set(files)
        problems = _domain_problems(roster)
        checked(problems)
        progress("check", 1, 1)
        with self.writing():
            counts: dict[str, Counts] = {}
            records: list[Record] = []
            total, done = roster.size, 0

            def put_all(name: str, record: type[R], items: Mapping[str, Any]) -> None:
                nonlocal done
                counts[name] = Counts()
                for key, value in items.items():
                    value = self._merged(record, key, value)
                    saved = self.put(record, key, value, traceparent)
                    counts[name].count(saved)
                    records.append(saved)
                    done += 1
                    progress("prepare", done, total)

            put_all("orgs", OrgRecord, roster.orgs)
            put_all("terms", TermRecord, roster.terms)
            put_all("courses", CourseRecord, roster.courses)
            put_all("sections", SectionRecord, roster.sections)
            put_all("people", PersonRecord, roster.people)
            records += self._left_out(roster, counts, traceparent)
            progress("save", 0, 1)
            position = self.save(*records)
            progress("save", 1, 1)
        return ImportResult("roster", counts, position, tuple(str(w) for w in roster.warnings))

    def _merged(self, record: type[R], key: str, value: Any) -> Any:
        """What the catalog adds to a course (its outcomes and scale) survives a re-import."""
        if record is CourseRecord:
            existing = self.load(CourseRecord, key)
            if existing is not None:
                held = existing.state
                return replace(value, outcomes=held.outcomes, scale_id=held.scale_id)
        return value

    def _left_out(
        self, roster: RosterSet, counts: dict[str, Counts], traceparent: str
    ) -> list[Record]:
        changed: list[Record] = []
        people = self.index.keys("person", {"source": "oneroster", "status": "active"})
        sections = self.index.keys("section", {"source": "oneroster"})
        forgotten = self.personal.vault.forgotten_among(people)  # removed already: left as is
        for key in people if "users.csv" in roster.bulk else ():
            if key not in roster.people and key not in forgotten:
                person = self.require(PersonRecord, key)
                self.put(
                    PersonRecord, key, replace(person.state, active=False), traceparent, person
                )
                counts["people"].retired += 1
                changed.append(person)
        for key in sections if "classes.csv" in roster.bulk else ():
            section = self.require(SectionRecord, key)
            held = section.state
            if key not in roster.sections and (held.student_ids or held.teacher_ids):
                emptied = replace(held, student_ids=(), teacher_ids=())
                self.put(SectionRecord, key, emptied, traceparent, section)
                counts["sections"].retired += 1
                changed.append(section)
        return changed


_FILES = {
    "org": "orgs.csv",
    "term": "academicSessions.csv",
    "course": "courses.csv",
    "section": "classes.csv",
    "person": "users.csv",
}


def _domain_problems(roster: RosterSet) -> list[Violation]:
    """The catalog's own rules, on what the set maps to (the file checks come first)."""
    checks: list[tuple[str, Mapping[str, Any], Callable[[str, Any], list[Violation]]]] = [
        ("org", roster.orgs, org_problems),
        ("term", roster.terms, term_problems),
        ("course", roster.courses, course_problems),
        ("section", roster.sections, section_problems),
        ("person", roster.people, person_problems),
    ]
    problems = []
    for kind, items, check in checks:
        for key, value in items.items():
            problems += [
                Violation(f"{_FILES[kind]}:{key}:{v.field}", v.description)
                for v in check(key, value)
            ]
    return problems
