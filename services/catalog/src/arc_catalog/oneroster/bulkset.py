"""Reading a whole OneRoster CSV bulk set into catalog definitions, checking every row first.
Pure: file contents in, a :class:`RosterSet` out, or :class:`InvalidRoster` listing every bad
row by file, line and column. Nothing is imported from a set with a bad row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from arc_catalog.domain.errors import InvalidDefinition
from arc_catalog.domain.rosters import TERM_KINDS, Course, Org, Person, Section, Term
from arc_catalog.oneroster.spec import (
    CATALOG_ROLE,
    CLASS_TYPES,
    ENROLLMENT_ROLES,
    ORG_TYPES,
    ROSTER_FILES,
    SESSION_TYPES,
    SPECS,
    USER_ROLES,
    VERSIONS,
    FileSpec,
)
from arc_catalog.oneroster.tables import Row, RowProblem, Table, read_table

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_YEAR = re.compile(r"^\d{4}$")
MAX_REPORTED = 500


class InvalidRoster(InvalidDefinition):
    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__([p.violation() for p in problems[:MAX_REPORTED]])
        self.problems = problems


@dataclass
class RosterSet:
    version: str
    #: the files the set holds in full ("bulk"); what they lack is no longer in the SIS
    bulk: frozenset[str] = frozenset()
    orgs: dict[str, Org] = field(default_factory=dict)
    terms: dict[str, Term] = field(default_factory=dict)
    courses: dict[str, Course] = field(default_factory=dict)
    sections: dict[str, Section] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    warnings: list[RowProblem] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(
            len(group)
            for group in (self.orgs, self.terms, self.courses, self.sections, self.people)
        )


def read_bulk_set(files: Mapping[str, bytes]) -> RosterSet:
    """``files``: file name (``users.csv``…) to content. Raises :class:`InvalidRoster`."""
    reader = _SetReader({name.rsplit("/", 1)[-1]: content for name, content in files.items()})
    roster = reader.read()
    if reader.problems or roster is None:
        raise InvalidRoster(reader.problems)
    return roster


class _SetReader:
    def __init__(self, files: Mapping[str, bytes]) -> None:
        self.files = files
        self.problems: list[RowProblem] = []
        self.warnings: list[RowProblem] = []
        self.tables: dict[str, Table] = {}

    def read(self) -> RosterSet | None:
        version, modes = self.manifest()
        if version is None:
            return None
        for name in ROSTER_FILES:
            self.load(name, modes.get(name, "absent"), SPECS[version].get(name))
        if not self.tables and not self.problems:
            self.problems.append(
                RowProblem("manifest.csv", None, None, "the set holds no rostering file in bulk")
            )
        if self.problems:
            return None
        roster = RosterSet(version, frozenset(self.tables))
        roster.orgs = self.orgs()
        roster.terms = self.terms()
        roster.courses = self.courses(roster.orgs, roster.terms)
        roles = self.roles(version, roster.orgs)
        roster.people = self.people(version, roles, roster.orgs)
        roster.sections = self.sections(roster)
        self.guardians(roster)
        roster.warnings = self.warnings
        return roster

    # --- manifest and files ---------------------------------------------------------------

    def manifest(self) -> tuple[str | None, dict[str, str]]:
        if "manifest.csv" not in self.files:
            self.problems.append(RowProblem("manifest.csv", None, None, "the set has no manifest"))
            return None, {}
        table = read_table("manifest.csv", self.files["manifest.csv"], self.problems)
        if table is None:
            return None, {}
        for column in ("propertyName", "value"):
            if column not in table.header:
                self.problems.append(RowProblem("manifest.csv", 1, column, "column missing"))
                return None, {}
        properties = {row.get("propertyName"): row for row in table}
        version_row = properties.get("oneroster.version")
        version = version_row.get("value") if version_row else None
        if version_row is None:
            self.problems.append(RowProblem("manifest.csv", None, None, "no oneroster.version"))
        elif version not in VERSIONS:
            self.problems.append(
                version_row.problem("value", f"OneRoster {version!r} is not 1.1 or 1.2")
            )
        modes: dict[str, str] = {}
        for name, row in properties.items():
            if name.startswith("file."):
                mode = row.get("value")
                modes[f"{name[5:]}.csv"] = mode
                if mode not in ("bulk", "delta", "absent"):
                    self.problems.append(row.problem("value", f"{mode!r} is not bulk or absent"))
                elif mode == "delta":
                    self.problems.append(
                        row.problem("value", "delta files are not supported: send a bulk set")
                    )
            elif not (name.startswith(("manifest.", "oneroster.", "source."))):
                self.warnings.append(row.problem("propertyName", f"unknown property {name!r}"))
        if version not in VERSIONS:
            return None, modes
        return version, modes

    def load(self, name: str, mode: str, spec: FileSpec | None) -> None:
        present = name in self.files
        if mode == "bulk" and spec is None:
            return  # a file this OneRoster version does not have (roles.csv in 1.1)
        if mode == "bulk" and not present:
            self.problems.append(
                RowProblem("manifest.csv", None, None, f"{name} is bulk but missing")
            )
            return
        if mode != "bulk" or spec is None:
            if present:
                self.warnings.append(RowProblem(name, None, None, "declared absent: not read"))
            return
        table = read_table(name, self.files[name], self.problems)
        if table is None:
            return
        for column in spec.required:
            if column not in table.header:
                self.problems.append(RowProblem(name, 1, column, "required column missing"))
        known = set(spec.required) | set(spec.optional)
        for column in table.header:
            if column not in known and not column.startswith("metadata."):
                self.warnings.append(RowProblem(name, 1, column, "unknown column: ignored"))
        seen: dict[str, int] = {}
        for row in list(table.rows):
            self.check_row(row, spec, seen)
        table.rows = [row for row in table.rows if row.get("status") != "tobedeleted"]
        self.tables[name] = table

    def check_row(self, row: Row, spec: FileSpec, seen: dict[str, int]) -> None:
        for column in spec.required:
            if column in row.values and not row.get(column):
                self.problems.append(row.problem(column, "required, but empty"))
        status = row.get("status")
        if status not in ("", "active", "tobedeleted"):
            self.problems.append(row.problem("status", f"{status!r} is not active or tobedeleted"))
        key = row.get("sourcedId")
        if key:
            if key in seen:
                self.problems.append(
                    row.problem("sourcedId", f"{key!r} is already used on line {seen[key]}")
                )
            seen.setdefault(key, row.line)

    def rows(self, name: str) -> Iterable[Row]:
        table = self.tables.get(name)
        return table.rows if table else ()

    # --- checks shared by the files ------------------------------------------------------------

    def choice(self, row: Row, column: str, allowed: Iterable[str]) -> str:
        value = row.get(column)
        if value and value not in allowed and not value.startswith("ext:"):
            self.problems.append(
                row.problem(column, f"{value!r} is not one of {', '.join(allowed)}")
            )
        return value

    def refers(self, row: Row, column: str, known: Mapping[str, Any], what: str) -> list[str]:
        found = []
        for key in row.many(column):
            if key not in known:
                self.problems.append(row.problem(column, f"no {what} {key!r} in this set"))
            else:
                found.append(key)
        return found

    def boolean(self, row: Row, column: str, default: bool) -> bool:
        value = row.get(column).lower()
        if value in ("true", "false"):
            return value == "true"
        if value:
            self.problems.append(row.problem(column, f"{row.get(column)!r} is not true or false"))
        return default

    def date(self, row: Row, column: str) -> str | None:
        value = row.get(column)
        if value and not _DATE.match(value):
            self.problems.append(row.problem(column, f"{value!r} is not a date like 2026-09-01"))
        return value or None

    # --- entities ----------------------------------------------------------------------------

    def orgs(self) -> dict[str, Org]:
        rows = {row.get("sourcedId"): row for row in self.rows("orgs.csv")}
        orgs = {}
        for key, row in rows.items():
            parent = self.refers(row, "parentSourcedId", rows, "org")
            orgs[key] = Org(
                name=row.get("name"),
                kind=self.choice(row, "type", ORG_TYPES),
                parent_id=parent[0] if parent else None,
                identifier=row.get("identifier") or None,
                source="oneroster",
            )
        return orgs

    def terms(self) -> dict[str, Term]:
        rows = {row.get("sourcedId"): row for row in self.rows("academicSessions.csv")}
        terms = {}
        for key, row in rows.items():
            kind = self.choice(row, "type", SESSION_TYPES)
            start, end = self.date(row, "startDate"), self.date(row, "endDate")
            if start and end and _DATE.match(start) and _DATE.match(end) and end < start:
                self.problems.append(row.problem("endDate", f"{end} is before {start}"))
            year = row.get("schoolYear")
            if year and not _YEAR.match(year):
                self.problems.append(row.problem("schoolYear", f"{year!r} is not a year"))
            parent = self.refers(row, "parentSourcedId", rows, "academic session")
            terms[key] = Term(
                title=row.get("title"),
                kind=kind if kind in TERM_KINDS else "term",  # type: ignore[arg-type]
                start_date=start,
                end_date=end,
                parent_id=parent[0] if parent else None,
                school_year=year or None,
                source="oneroster",
            )
        return terms

    def courses(self, orgs: Mapping[str, Org], terms: Mapping[str, Term]) -> dict[str, Course]:
        courses = {}
        for row in self.rows("courses.csv"):
            school = self.refers(row, "orgSourcedId", orgs, "org")
            self.refers(row, "schoolYearSourcedId", terms, "academic session")
            subjects = row.many("subjects")
            courses[row.get("sourcedId")] = Course(
                title=row.get("title"),
                code=row.get("courseCode") or None,
                school_id=school[0] if school else None,
                subject_area=subjects[0] if subjects else None,
                grade_levels=tuple(row.many("grades")),
                source="oneroster",
            )
        return courses

    def roles(self, version: str, orgs: Mapping[str, Org]) -> dict[str, list[tuple[str, str]]]:
        """user -> [(OneRoster role, org)], primary role first (1.2 roles.csv)."""
        users = {row.get("sourcedId") for row in self.rows("users.csv")}
        found: dict[str, list[tuple[str, str]]] = {}
        if version == "1.1":
            return found
        for row in self.rows("roles.csv"):
            role = self.choice(row, "role", USER_ROLES)
            if self.choice(row, "roleType", ("primary", "secondary")) not in (
                "primary",
                "secondary",
            ):
                continue
            self.refers(row, "userSourcedId", dict.fromkeys(users), "user")
            self.refers(row, "orgSourcedId", orgs, "org")
            entry = (role, row.get("orgSourcedId"))
            listed = found.setdefault(row.get("userSourcedId"), [])
            if row.get("roleType") == "primary":
                listed.insert(0, entry)
            else:
                listed.append(entry)
        return found

    def people(
        self, version: str, roles: Mapping[str, list[tuple[str, str]]], orgs: Mapping[str, Org]
    ) -> dict[str, Person]:
        users = {row.get("sourcedId"): row for row in self.rows("users.csv")}
        people = {}
        for key, row in users.items():
            self.refers(row, "agentSourcedIds", users, "user")
            if version == "1.1":
                role = self.choice(row, "role", USER_ROLES)
                schools = self.refers(row, "orgSourcedIds", orgs, "org")
            else:
                held = roles.get(key, [])
                if not held:
                    self.problems.append(row.problem("sourcedId", "no role in roles.csv"))
                role = held[0][0] if held else ""
                schools = list(dict.fromkeys(org for _, org in held if org in orgs))
                self.refers(row, "primaryOrgSourcedId", orgs, "org")
            people[key] = Person(
                role=CATALOG_ROLE.get(role, "teacher"),  # type: ignore[arg-type]
                given_name=row.get("preferredGivenName") or row.get("givenName"),
                family_name=row.get("preferredFamilyName") or row.get("familyName"),
                email=row.get("email") or None,
                username=row.get("username") or None,
                school_ids=tuple(schools),
                grade_levels=tuple(row.many("grades")),
                active=self.boolean(row, "enabledUser", True),
                source="oneroster",
            )
        return people

    def sections(self, roster: RosterSet) -> dict[str, Section]:
        classes = {row.get("sourcedId"): row for row in self.rows("classes.csv")}
        teachers: dict[str, list[str]] = {key: [] for key in classes}
        students: dict[str, list[str]] = {key: [] for key in classes}
        for row in self.rows("enrollments.csv"):
            found = self.refers(row, "classSourcedId", classes, "class")
            users = self.refers(row, "userSourcedId", roster.people, "user")
            self.refers(row, "schoolSourcedId", roster.orgs, "org")
            role = self.choice(row, "role", ENROLLMENT_ROLES)
            self.boolean(row, "primary", False)
            self.date(row, "beginDate")
            self.date(row, "endDate")
            if not found or not users:
                continue
            person = roster.people[users[0]]
            wanted = "student" if role == "student" else "teacher"
            if role in ("student", "teacher", "aide", "proctor") and person.role != wanted:
                self.warnings.append(
                    row.problem(
                        "role",
                        f"{users[0]} is a {person.role} in users, enrolled here as {role}",
                    )
                )
            roster_list = students if role == "student" else teachers
            if role in ("student", "teacher", "aide", "proctor"):
                if users[0] not in roster_list[found[0]]:
                    roster_list[found[0]].append(users[0])
            else:
                self.warnings.append(row.problem("role", f"{role} enrolments are not kept"))
        sections = {}
        for key, row in classes.items():
            course = self.refers(row, "courseSourcedId", roster.courses, "course")
            school = self.refers(row, "schoolSourcedId", roster.orgs, "org")
            terms = self.refers(row, "termSourcedIds", roster.terms, "academic session")
            self.choice(row, "classType", CLASS_TYPES)
            sections[key] = Section(
                course_id=course[0] if course else row.get("courseSourcedId"),
                title=row.get("title"),
                code=row.get("classCode") or None,
                school_id=school[0] if school else None,
                term_ids=tuple(terms),
                teacher_ids=tuple(teachers[key]),
                student_ids=tuple(students[key]),
                periods=tuple(row.many("periods")),
                source="oneroster",
            )
        return sections

    def guardians(self, roster: RosterSet) -> None:
        """``agentSourcedIds`` link a student and their guardians, in either direction."""
        wards: dict[str, list[str]] = {}
        for row in self.rows("users.csv"):
            key = row.get("sourcedId")
            for agent in row.many("agentSourcedIds"):
                if agent not in roster.people:
                    continue
                pair = {roster.people[key].role: key, roster.people[agent].role: agent}
                if set(pair) == {"guardian", "student"}:
                    ward = wards.setdefault(pair["guardian"], [])
                    if pair["student"] not in ward:
                        ward.append(pair["student"])
                else:
                    self.warnings.append(
                        row.problem("agentSourcedIds", f"{agent}: only guardian–student links kept")
                    )
        for guardian, students in wards.items():
            roster.people[guardian] = replace(roster.people[guardian], guardian_of=tuple(students))
