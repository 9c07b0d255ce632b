"""The people the access tests call as: the demo student (stu-001) and, for each role, someone
related to her and someone who is not (another section, school or family)."""

from __future__ import annotations

from arc_platform.auth import Role
from arc_platform.auth.dev_issuer import DemoUser

STUDENT, CLASSMATE, OTHER_STUDENT = "stu-001", "stu-003", "stu-002"


def other(subject: str, role: Role) -> DemoUser:
    """A user who is not one of the dev issuer's demo users."""
    return DemoUser(subject, (role,), subject)


#: name → demo user name or user
CALLERS: dict[str, str | DemoUser] = {
    "the student herself": "student",
    "another student": other(OTHER_STUDENT, Role.STUDENT),
    "her guardian": "guardian",
    "another student's guardian": other("guardian-002", Role.GUARDIAN),
    "her teacher": "teacher",
    "a teacher of another section": other("teacher-002", Role.TEACHER),
    "her school's leader": "leader",
    "another school's leader": other("leader-002", Role.LEADER),
    "a network admin": "admin",
    "an auditor": "auditor",
    "an integrator": "integrator",
    "an xAPI tool": "tool",
}
