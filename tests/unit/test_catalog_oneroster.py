"""A district's SIS exports a OneRoster CSV bulk set; the catalog checks every row before
importing anything, and names the file, line and column of each bad one. Pure."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from arc_catalog.oneroster.bulkset import InvalidRoster, RosterSet, read_bulk_set
from arc_catalog.oneroster.tables import RowProblem

ONEROSTER_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "oneroster"
HAS_SET = (ONEROSTER_DIR / "manifest.csv").is_file()
real_set = pytest.mark.skipif(not HAS_SET, reason=f"no OneRoster set under {ONEROSTER_DIR}")

Rows = list[dict[str, str]]


def csv_bytes(rows: Rows, header: list[str] | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header or list(rows[0]), quoting=csv.QUOTE_ALL)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def manifest(version: str = "1.1", **modes: str) -> bytes:
    files = {
        "academicSessions": "bulk",
        "orgs": "bulk",
        "courses": "bulk",
        "classes": "bulk",
        "users": "bulk",
        "enrollments": "bulk",
        "demographics": "absent",
        **({"roles": "bulk"} if version == "1.2" else {}),
        **modes,
    }
    rows = [
        {"propertyName": "manifest.version", "value": "1.0"},
        {"propertyName": "oneroster.version", "value": version},
    ] + [{"propertyName": f"file.{name}", "value": mode} for name, mode in files.items()]
    return csv_bytes(rows)


def user(key: str, role: str, agents: str = "", **extra: str) -> dict[str, str]:
    row = {
        "sourcedId": key,
        "status": "",
        "dateLastModified": "",
        "enabledUser": "true",
        "orgSourcedIds": "school-1",
        "role": role,
        "username": key,
        "givenName": f"Given {key}",
        "familyName": f"Family {key}",
        "email": f"{key}@school.example",
        "agentSourcedIds": agents,
        "grades": "06",
    }
    row.update(extra)
    return row


def small_set(version: str = "1.1") -> dict[str, Rows | bytes]:
    """One school, a year with two terms, a course with one section, a teacher, two students
    and a parent linked to the first student."""
    users = [
        user("t-1", "teacher"),
        user("s-1", "student", agents="p-1"),
        user("s-2", "student"),
        user("p-1", "parent", agents="s-1"),
    ]
    files: dict[str, Rows | bytes] = {
        "manifest.csv": manifest(version),
        "orgs.csv": [
            {
                "sourcedId": "school-1",
                "status": "",
                "dateLastModified": "",
                "name": "Ridge Middle",
                "type": "school",
                "identifier": "RM",
                "parentSourcedId": "",
            }
        ],
        "academicSessions.csv": [
            {
                "sourcedId": "y-26",
                "status": "",
                "dateLastModified": "",
                "title": "2026-27",
                "type": "schoolYear",
                "startDate": "2026-08-20",
                "endDate": "2027-06-15",
                "parentSourcedId": "",
                "schoolYear": "2027",
            },
            {
                "sourcedId": "t-fall",
                "status": "",
                "dateLastModified": "",
                "title": "Fall",
                "type": "term",
                "startDate": "2026-08-20",
                "endDate": "2027-01-15",
                "parentSourcedId": "y-26",
                "schoolYear": "2027",
            },
        ],
        "courses.csv": [
            {
                "sourcedId": "math-6",
                "status": "",
                "dateLastModified": "",
                "schoolYearSourcedId": "y-26",
                "title": "Math 6",
                "courseCode": "M6",
                "grades": "06",
                "orgSourcedId": "school-1",
                "subjects": "Mathematics",
                "subjectCodes": "",
            }
        ],
        "classes.csv": [
            {
                "sourcedId": "math-6-a",
                "status": "",
                "dateLastModified": "",
                "title": "Math 6 A",
                "grades": "06",
                "courseSourcedId": "math-6",
                "classCode": "M6A",
                "classType": "scheduled",
                "location": "",
                "schoolSourcedId": "school-1",
                "termSourcedIds": "t-fall",
                "subjects": "",
                "subjectCodes": "",
                "periods": "1,2",
            }
        ],
        "users.csv": users,
        "enrollments.csv": [
            enrollment("e-1", "t-1", "teacher"),
            enrollment("e-2", "s-1", "student"),
            enrollment("e-3", "s-2", "student"),
        ],
    }
    if version == "1.2":
        for row in users:
            role = row.pop("role")
            row.pop("orgSourcedIds")
            row["primaryOrgSourcedId"] = "school-1"
            row["_role"] = role
        files["roles.csv"] = [
            {
                "sourcedId": f"r-{row['sourcedId']}",
                "status": "",
                "dateLastModified": "",
                "userSourcedId": row["sourcedId"],
                "roleType": "primary",
                "role": row.pop("_role"),
                "beginDate": "",
                "endDate": "",
                "orgSourcedId": "school-1",
                "userProfileSourcedId": "",
            }
            for row in users
        ]
    return files


def enrollment(key: str, person: str, role: str, section: str = "math-6-a") -> dict[str, str]:
    return {
        "sourcedId": key,
        "status": "",
        "dateLastModified": "",
        "classSourcedId": section,
        "schoolSourcedId": "school-1",
        "userSourcedId": person,
        "role": role,
        "primary": "true" if role == "teacher" else "false",
        "beginDate": "",
        "endDate": "",
    }


def encoded(files: dict[str, Rows | bytes]) -> dict[str, bytes]:
    return {
        name: rows if isinstance(rows, bytes) else csv_bytes(rows) for name, rows in files.items()
    }


def read(files: dict[str, Rows | bytes]) -> RosterSet:
    return read_bulk_set(encoded(files))


def problems_of(files: dict[str, Rows | bytes] | dict[str, bytes]) -> list[RowProblem]:
    with pytest.raises(InvalidRoster) as caught:
        read_bulk_set(encoded(files))  # type: ignore[arg-type]
    return caught.value.problems


def where(problem: RowProblem) -> tuple[str, int | None, str | None]:
    return (problem.file, problem.line, problem.column)


# --- the real set ----------------------------------------------------------------------------


@real_set
def test_the_real_sample_set_reads_whole() -> None:
    files = {path.name: path.read_bytes() for path in ONEROSTER_DIR.glob("*.csv")}
    roster = read_bulk_set(files)
    assert roster.version == "1.1"
    assert (len(roster.orgs), len(roster.terms), len(roster.courses)) == (1, 4, 2)
    assert (len(roster.sections), len(roster.people)) == (5, 20)
    assert sum(len(s.student_ids) for s in roster.sections.values()) == 25
    assert sum(len(s.teacher_ids) for s in roster.sections.values()) == 5
    first = roster.sections["cl0001"]
    assert (first.course_id, first.term_ids, first.teacher_ids) == (
        "co0001",
        ("as0001",),
        ("us0001",),
    )
    assert roster.people["us0003"].school_ids == ("or0001",)


@real_set
def test_the_real_sample_sets_quirks_are_warnings_with_their_place() -> None:
    files = {path.name: path.read_bytes() for path in ONEROSTER_DIR.glob("*.csv")}
    warnings = read_bulk_set(files).warnings
    typo = next(w for w in warnings if w.file == "manifest.csv")
    assert typo.column == "propertyName" and "fiel.demographics" in typo.message
    mismatched = [w for w in warnings if w.file == "enrollments.csv"]
    assert [(w.line, w.column) for w in mismatched] == [(n, "role") for n in range(2, 7)]
    assert "us0001 is a student in users, enrolled here as teacher" in mismatched[0].message


# --- a small set of each version ---------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_a_small_set_maps_to_schools_terms_courses_sections_and_people(version: str) -> None:
    roster = read(small_set(version))
    assert roster.version == version
    assert roster.orgs["school-1"].name == "Ridge Middle"
    assert roster.terms["t-fall"].parent_id == "y-26" and roster.terms["y-26"].kind == "schoolYear"
    assert roster.courses["math-6"].subject_area == "Mathematics"
    section = roster.sections["math-6-a"]
    assert section.teacher_ids == ("t-1",) and section.student_ids == ("s-1", "s-2")
    assert section.periods == ("1", "2")
    assert {key: p.role for key, p in roster.people.items()} == {
        "t-1": "teacher",
        "s-1": "student",
        "s-2": "student",
        "p-1": "guardian",
    }
    assert roster.people["p-1"].guardian_of == ("s-1",)
    assert roster.people["s-1"].school_ids == ("school-1",)
    assert roster.warnings == []


def test_a_guardian_link_given_only_on_the_student_side_is_kept() -> None:
    files = small_set()
    users = files["users.csv"]
    assert isinstance(users, list)
    users[3]["agentSourcedIds"] = ""
    users[2]["agentSourcedIds"] = "p-1"
    assert read(files).people["p-1"].guardian_of == ("s-1", "s-2")


def test_a_disabled_user_is_inactive_and_an_aide_teaches() -> None:
    files = small_set()
    users = files["users.csv"]
    assert isinstance(users, list)
    users[2]["enabledUser"] = "false"
    users.append(user("a-1", "aide"))
    enrollments = files["enrollments.csv"]
    assert isinstance(enrollments, list)
    enrollments.append(enrollment("e-4", "a-1", "aide"))
    roster = read(files)
    assert not roster.people["s-2"].active
    assert roster.sections["math-6-a"].teacher_ids == ("t-1", "a-1")


def test_rows_marked_tobedeleted_are_left_out() -> None:
    files = small_set()
    users = files["users.csv"]
    assert isinstance(users, list)
    users.append(user("gone", "student", status="tobedeleted"))
    assert "gone" not in read(files).people


def test_line_numbers_count_physical_lines_across_quoted_newlines() -> None:
    files = small_set()
    orgs = files["orgs.csv"]
    assert isinstance(orgs, list)
    orgs[0]["name"] = "Ridge\nMiddle"  # the record spans lines 2 and 3
    orgs.append({**orgs[0], "sourcedId": "school-2", "name": "Valley", "type": "campus"})
    (problem,) = problems_of(files)
    assert where(problem) == ("orgs.csv", 4, "type")


# --- bad sets: every problem named by file, line and column ---------------------------------------


def edit(
    change: Callable[[dict[str, Rows | bytes]], object], version: str = "1.1"
) -> dict[str, Rows | bytes]:
    files = small_set(version)
    change(files)
    return files


def rows(files: dict[str, Rows | bytes], name: str) -> Rows:
    found = files[name]
    assert isinstance(found, list)
    return found


BAD: list[
    tuple[str, Callable[[dict[str, Rows | bytes]], object], tuple[str, int | None, str | None], str]
] = [
    ("no manifest", lambda f: f.pop("manifest.csv"), ("manifest.csv", None, None), "no manifest"),
    (
        "unknown version",
        lambda f: f.update({"manifest.csv": manifest("1.0")}),
        ("manifest.csv", 3, "value"),
        "'1.0' is not 1.1 or 1.2",
    ),
    (
        "delta file",
        lambda f: f.update({"manifest.csv": manifest(users="delta")}),
        ("manifest.csv", 8, "value"),
        "delta files are not supported",
    ),
    (
        "bulk file missing",
        lambda f: f.pop("courses.csv"),
        ("manifest.csv", None, None),
        "courses.csv is bulk but missing",
    ),
    (
        "column missing",
        lambda f: [r.pop("givenName") for r in rows(f, "users.csv")],
        ("users.csv", 1, "givenName"),
        "required column missing",
    ),
    (
        "required value empty",
        lambda f: rows(f, "users.csv")[1].update(familyName=""),
        ("users.csv", 3, "familyName"),
        "required, but empty",
    ),
    (
        "bad org type",
        lambda f: rows(f, "orgs.csv")[0].update(type="academy"),
        ("orgs.csv", 2, "type"),
        "'academy' is not one of",
    ),
    (
        "duplicate id",
        lambda f: rows(f, "users.csv").append(user("s-2", "student")),
        ("users.csv", 6, "sourcedId"),
        "'s-2' is already used on line 4",
    ),
    (
        "unknown class",
        lambda f: rows(f, "enrollments.csv")[1].update(classSourcedId="art-1"),
        ("enrollments.csv", 3, "classSourcedId"),
        "no class 'art-1'",
    ),
    (
        "unknown user",
        lambda f: rows(f, "enrollments.csv")[2].update(userSourcedId="s-9"),
        ("enrollments.csv", 4, "userSourcedId"),
        "no user 's-9'",
    ),
    (
        "unknown term",
        lambda f: rows(f, "classes.csv")[0].update(termSourcedIds="t-fall,t-spring"),
        ("classes.csv", 2, "termSourcedIds"),
        "no academic session 't-spring'",
    ),
    (
        "unknown course",
        lambda f: rows(f, "classes.csv")[0].update(courseSourcedId="sci-6"),
        ("classes.csv", 2, "courseSourcedId"),
        "no course 'sci-6'",
    ),
    (
        "unknown school of a user",
        lambda f: rows(f, "users.csv")[0].update(orgSourcedIds="school-9"),
        ("users.csv", 2, "orgSourcedIds"),
        "no org 'school-9'",
    ),
    (
        "unknown agent",
        lambda f: rows(f, "users.csv")[1].update(agentSourcedIds="p-9"),
        ("users.csv", 3, "agentSourcedIds"),
        "no user 'p-9'",
    ),
    (
        "bad date",
        lambda f: rows(f, "academicSessions.csv")[1].update(startDate="20/08/2026"),
        ("academicSessions.csv", 3, "startDate"),
        "not a date",
    ),
    (
        "ends before it starts",
        lambda f: rows(f, "academicSessions.csv")[1].update(endDate="2026-01-01"),
        ("academicSessions.csv", 3, "endDate"),
        "is before",
    ),
    (
        "bad school year",
        lambda f: rows(f, "academicSessions.csv")[0].update(schoolYear="26-27"),
        ("academicSessions.csv", 2, "schoolYear"),
        "not a year",
    ),
    (
        "bad boolean",
        lambda f: rows(f, "users.csv")[0].update(enabledUser="yes"),
        ("users.csv", 2, "enabledUser"),
        "'yes' is not true or false",
    ),
    (
        "bad status",
        lambda f: rows(f, "users.csv")[0].update(status="deleted"),
        ("users.csv", 2, "status"),
        "not active or tobedeleted",
    ),
    (
        "bad user role",
        lambda f: rows(f, "users.csv")[0].update(role="janitor"),
        ("users.csv", 2, "role"),
        "'janitor' is not one of",
    ),
    (
        "bad enrolment role",
        lambda f: rows(f, "enrollments.csv")[0].update(role="observer"),
        ("enrollments.csv", 2, "role"),
        "'observer' is not one of",
    ),
    (
        "not utf-8",
        lambda f: f.update({"orgs.csv": "sourcedId\n\xe9".encode("latin-1")}),
        ("orgs.csv", None, None),
        "not UTF-8",
    ),
    (
        "empty file",
        lambda f: f.update({"courses.csv": b""}),
        ("courses.csv", 1, None),
        "the file is empty",
    ),
    (
        "a short row",
        lambda f: f.update({"orgs.csv": b'"sourcedId","name","type"\n"x","X"\n'}),
        ("orgs.csv", 2, None),
        "2 fields, the header has 3",
    ),
]


@pytest.mark.parametrize(("change", "place", "says"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_row_is_reported_by_file_line_and_column(
    change: Callable[[dict[str, Rows | bytes]], object],
    place: tuple[str, int | None, str | None],
    says: str,
) -> None:
    found = problems_of(edit(change))
    assert any(where(p) == place and says in p.message for p in found), [str(p) for p in found]


def test_a_1_2_user_without_a_role_is_refused() -> None:
    found = problems_of(edit(lambda f: rows(f, "roles.csv").pop(1), "1.2"))
    assert [(where(p), p.message) for p in found] == [
        (("users.csv", 3, "sourcedId"), "no role in roles.csv")
    ]


def test_every_bad_row_is_reported_at_once() -> None:
    def three_faults(files: dict[str, Rows | bytes]) -> None:
        rows(files, "users.csv")[0]["enabledUser"] = "maybe"
        rows(files, "orgs.csv")[0]["type"] = "academy"
        rows(files, "enrollments.csv")[2]["userSourcedId"] = "nobody"

    places = {where(p) for p in problems_of(edit(three_faults))}
    assert places == {
        ("users.csv", 2, "enabledUser"),
        ("orgs.csv", 2, "type"),
        ("enrollments.csv", 4, "userSourcedId"),
    }


def test_a_problem_becomes_a_field_violation_naming_file_line_and_column() -> None:
    problem = RowProblem("users.csv", 14, "role", "'janitor' is not one of …")
    assert (problem.violation().field, str(problem)) == (
        "users.csv:14:role",
        "users.csv, line 14, column role: 'janitor' is not one of …",
    )
