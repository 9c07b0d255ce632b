"""Reporting's SQL tables. Everything here is built only from events (see read_model)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

SCORE = sa.Numeric(12, 4)
WHEN = sa.DateTime(timezone=True)

#: Every revision of every catalog definition, with when the catalog published it.
catalog_entries = sa.Table(
    "catalog_entries",
    metadata,
    sa.Column("subject", sa.String(120), primary_key=True),
    sa.Column("entity_id", sa.String(200), primary_key=True),
    sa.Column("revision", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("known_at", WHEN, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
)
attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("attempt_id", sa.String(64), primary_key=True),
    sa.Column("student_id", sa.String(200), nullable=False),
    sa.Column("outcome_id", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("score", SCORE, nullable=True),
    sa.Column("assessed_at", WHEN, nullable=False),
    sa.Column("recorded_at", WHEN, nullable=False),
    sa.Column("recorded_by", sa.String(200), nullable=False),
    sa.Column("assessment_ref", sa.String(300), nullable=True),
    sa.Column("assessment_kind", sa.String(40), nullable=False),
    sa.Column("weight", SCORE, nullable=False),
    sa.Column("tags", sa.Text, nullable=False),  # JSON list
    sa.Column("supersedes", sa.String(64), nullable=True),
    sa.Column("comment", sa.Text, nullable=True),
    sa.Index("ix_attempts_student_outcome", "student_id", "outcome_id"),
    sa.Index("ix_attempts_outcome", "outcome_id"),
)
voids = sa.Table(
    "voids",
    metadata,
    sa.Column("attempt_id", sa.String(64), primary_key=True),
    sa.Column("student_id", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("voided_by", sa.String(200), nullable=False),
    sa.Column("voided_at", WHEN, nullable=False),
)
mastery_changes = sa.Table(
    "mastery_changes",
    metadata,
    sa.Column("stream_sequence", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("student_id", sa.String(200), nullable=False),
    sa.Column("outcome_id", sa.String(200), nullable=False),
    sa.Column("before_value", SCORE, nullable=True),
    sa.Column("before_level", SCORE, nullable=True),
    sa.Column("before_status", sa.String(20), nullable=False),
    sa.Column("value", SCORE, nullable=True),
    sa.Column("level", SCORE, nullable=True),
    sa.Column("label", sa.String(200), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("evidence_count", sa.Integer, nullable=False),
    sa.Column("method", sa.String(100), nullable=False),
    sa.Column("cause_kind", sa.String(20), nullable=False),
    sa.Column("cause_attempt_id", sa.String(64), nullable=True),
    sa.Column("assessed_at", WHEN, nullable=True),
    sa.Column("changed_at", WHEN, nullable=False),
    sa.Index("ix_changes_student_outcome", "student_id", "outcome_id"),
    sa.Index("ix_changes_outcome", "outcome_id"),
)

#: Each pair's newest mastery change (by changed at, then stream sequence), kept as changes
#: arrive: what views of standings "now" read (a heat map), so that their cost follows the pairs
#: shown rather than the history behind them. Views "as of" a moment read ``mastery_changes``.
current_standings = sa.Table(
    "current_standings",
    metadata,
    sa.Column("student_id", sa.String(200), primary_key=True),
    sa.Column("outcome_id", sa.String(200), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("value", SCORE, nullable=True),
    sa.Column("level", SCORE, nullable=True),
    sa.Column("label", sa.String(200), nullable=True),
    sa.Column("evidence_count", sa.Integer, nullable=False),
    sa.Column("method", sa.String(100), nullable=False),
    sa.Column("stream_sequence", sa.BigInteger, nullable=False),
    sa.Column("changed_at", WHEN, nullable=False),
    sa.Index("ix_current_outcome", "outcome_id"),
)

#: Students forgotten (right to erasure): shown as removed, whatever arrives about them later.
forgotten_students = sa.Table(
    "forgotten_students",
    metadata,
    sa.Column("student_id", sa.String(200), primary_key=True),
)

#: Tables a rebuild must reproduce exactly (with their natural order).
CONTENT = {
    "catalog_entries": ("subject", "entity_id", "revision"),
    "attempts": ("attempt_id",),
    "voids": ("attempt_id",),
    "mastery_changes": ("stream_sequence",),
    "current_standings": ("student_id", "outcome_id"),
    "forgotten_students": ("student_id",),
}
