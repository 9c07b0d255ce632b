"""What the OneRoster 1.1 and 1.2 CSV binding requires of each rostering file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

VERSIONS = ("1.1", "1.2")
#: Files this importer reads; the other OneRoster files (gradebook, resources…) are ignored.
ROSTER_FILES = (
    "orgs.csv",
    "academicSessions.csv",
    "courses.csv",
    "classes.csv",
    "users.csv",
    "roles.csv",
    "enrollments.csv",
)
ORG_TYPES = ("department", "school", "district", "local", "state", "national")
SESSION_TYPES = ("gradingPeriod", "semester", "schoolYear", "term")
CLASS_TYPES = ("homeroom", "scheduled")
USER_ROLES = (
    "administrator",
    "aide",
    "counselor",
    "districtAdministrator",
    "guardian",
    "parent",
    "principal",
    "proctor",
    "relative",
    "siteAdministrator",
    "student",
    "systemAdministrator",
    "teacher",
)
ENROLLMENT_ROLES = ("administrator", "aide", "proctor", "student", "teacher")
#: OneRoster role -> the catalog's role.
CATALOG_ROLE: Mapping[str, str] = {
    "student": "student",
    "teacher": "teacher",
    "aide": "teacher",
    "proctor": "teacher",
    "counselor": "teacher",
    "guardian": "guardian",
    "parent": "guardian",
    "relative": "guardian",
    "administrator": "administrator",
    "principal": "administrator",
    "siteAdministrator": "administrator",
    "districtAdministrator": "administrator",
    "systemAdministrator": "administrator",
}


@dataclass(frozen=True)
class FileSpec:
    required: tuple[str, ...]  # columns that must be present and filled
    optional: tuple[str, ...]  # columns that may be absent or empty


_COMMON = ("status", "dateLastModified")
SPECS: Mapping[str, Mapping[str, FileSpec]] = {
    "1.1": {
        "orgs.csv": FileSpec(
            ("sourcedId", "name", "type"), (*_COMMON, "identifier", "parentSourcedId")
        ),
        "academicSessions.csv": FileSpec(
            ("sourcedId", "title", "type", "startDate", "endDate", "schoolYear"),
            (*_COMMON, "parentSourcedId"),
        ),
        "courses.csv": FileSpec(
            ("sourcedId", "title", "orgSourcedId"),
            (*_COMMON, "schoolYearSourcedId", "courseCode", "grades", "subjects", "subjectCodes"),
        ),
        "classes.csv": FileSpec(
            (
                "sourcedId",
                "title",
                "courseSourcedId",
                "classType",
                "schoolSourcedId",
                "termSourcedIds",
            ),
            (*_COMMON, "grades", "classCode", "location", "subjects", "subjectCodes", "periods"),
        ),
        "users.csv": FileSpec(
            (
                "sourcedId",
                "enabledUser",
                "orgSourcedIds",
                "role",
                "username",
                "givenName",
                "familyName",
            ),
            (
                *_COMMON,
                "userIds",
                "middleName",
                "identifier",
                "email",
                "sms",
                "phone",
                "agentSourcedIds",
                "grades",
                "password",
            ),
        ),
        "enrollments.csv": FileSpec(
            ("sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"),
            (*_COMMON, "primary", "beginDate", "endDate"),
        ),
    },
}
SPECS = {
    **SPECS,
    "1.2": {
        **SPECS["1.1"],
        "users.csv": FileSpec(
            ("sourcedId", "enabledUser", "username", "givenName", "familyName"),
            (
                *_COMMON,
                "userIds",
                "middleName",
                "identifier",
                "email",
                "sms",
                "phone",
                "agentSourcedIds",
                "grades",
                "password",
                "userMasterIdentifier",
                "resourceSourcedIds",
                "preferredGivenName",
                "preferredMiddleName",
                "preferredFamilyName",
                "primaryOrgSourcedId",
                "pronouns",
            ),
        ),
        "roles.csv": FileSpec(
            ("userSourcedId", "roleType", "role", "orgSourcedId"),
            (*_COMMON, "sourcedId", "beginDate", "endDate", "userProfileSourcedId"),
        ),
    },
}
