"""Forgetting a student (right to erasure): their key is deleted from the key vault, so every
sealed field about them, in every service's events, can no longer be read; a ``Forgotten``
event tells the other services to show them as removed. The events themselves stay."""

from __future__ import annotations

from arc_catalog.core import CatalogCore, Saved
from arc_catalog.domain.errors import InvalidDefinition
from arc_catalog.domain.records import PersonRecord


class ErasureCases(CatalogCore):
    def forget_student(self, student_id: str, traceparent: str = "") -> Saved:
        """Forget a student for good. The key goes first: should recording the event fail,
        asking again records it (a student already forgotten changes nothing)."""
        with self.writing():
            record = self.require(PersonRecord, student_id, field="person_id")
            role = record.state.role
            if role != "student":
                raise InvalidDefinition("person_id", f"{student_id!r} is a {role}, not a student")
            self.personal.forget(student_id)
            if record.forgotten:
                return Saved(record.key, record.revision, None)
            record.forget(traceparent, self.actor())
            return self.saved(record)
