"""Who recorded it: the ``recorded_by`` (or ``voided_by``) a request names must be the caller.

Left empty, it is the caller (the token's subject). Naming someone else is refused, except for
a network administrator entering evidence on a teacher's behalf (a paper gradebook, a data
migration). Either way the stored events also carry the authenticated actor, so the record
always shows who actually made the change.
"""

from __future__ import annotations

from arc_platform.auth import Role, current_request


class NotTheCaller(Exception):
    """A request names a recorder other than the caller, who may not do so."""

    def __init__(self, field: str, caller: str) -> None:
        super().__init__(
            f"{field}: must be you ({caller}) or left empty; only a network administrator"
            " records on someone else's behalf"
        )
        self.field = field
        self.description = str(self).split(": ", 1)[1]


def recorder(named: str, field: str = "recorded_by") -> str:
    """The recorder to store for a request of the current caller naming ``named``."""
    caller = current_request().principal
    wanted = named.strip()
    if not wanted or wanted == caller.subject:
        return caller.subject
    if caller.has(Role.NETWORK_ADMIN):
        return wanted
    raise NotTheCaller(field, caller.subject)
