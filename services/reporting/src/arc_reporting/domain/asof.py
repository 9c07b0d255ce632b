"""Every view can be shown as it stood at a past moment: what was *known* then. An attempt
counts from when it was recorded (a backdated attempt recorded today is not in last month's
view), a void from when it was made, a level change from when mastery published it, and a
catalog definition from when the catalog published that revision."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from arc_reporting.domain.records import NO_EVIDENCE, Attempt, Change, Standing, standing_of


class BadField(ValueError):
    """Input that cannot be used, naming the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def utc(value: datetime) -> datetime:
    """Naive datetimes (as SQLite gives them back) are UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_moment(text: str | None, field: str = "as_of") -> datetime | None:
    """``2026-10-02`` means the end of that day (UTC); a date-time needs a time zone."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=1), time(0), UTC) - timedelta(
                microseconds=1
            )
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadField(field, f"{text!r} is not a date (2026-10-02) or a date-time") from None
    if moment.tzinfo is None:
        raise BadField(field, "give a time zone (e.g. 2026-10-02T12:00Z) or a plain date")
    return moment.astimezone(UTC)


def known_by(moment: datetime, as_of: datetime | None) -> bool:
    return as_of is None or utc(moment) <= as_of


def standing_at(changes: Iterable[Change], as_of: datetime | None) -> Standing:
    """The standing after the newest change known at ``as_of``."""
    latest: Change | None = None
    for change in changes:
        if known_by(change.changed_at, as_of) and (
            latest is None
            or (change.changed_at, change.sequence) > (latest.changed_at, latest.sequence)
        ):
            latest = change
    return NO_EVIDENCE if latest is None else standing_of(latest)


def standings_at(
    changes: Iterable[Change], as_of: datetime | None
) -> dict[tuple[str, str], Standing]:
    """Standing per (student, outcome) pair with any change known at ``as_of``."""
    by_pair: dict[tuple[str, str], list[Change]] = {}
    for change in changes:
        by_pair.setdefault((change.student_id, change.outcome_id), []).append(change)
    found = {pair: standing_at(items, as_of) for pair, items in by_pair.items()}
    return {pair: standing for pair, standing in found.items() if standing is not NO_EVIDENCE}


@dataclass(frozen=True)
class AttemptAsOf:
    """An attempt as it stood at a moment: whether it counts, and if not, why."""

    attempt: Attempt
    voided: bool
    superseded_by: str | None
    not_counted: str | None  # the reason, None when it counts

    @property
    def counted(self) -> bool:
        return self.not_counted is None


def attempts_at(
    attempts: Iterable[Attempt],
    as_of: datetime | None,
    excluded_tags: frozenset[str] = frozenset(),
) -> list[AttemptAsOf]:
    """The attempts recorded by ``as_of``, oldest shown first (assessed-at, recorded-at, id),
    each marked counted or not with the reason (the same reasons mastery gives)."""
    visible = [a for a in attempts if known_by(a.recorded_at, as_of)]
    superseded = {a.supersedes: a.attempt_id for a in visible if a.supersedes}
    result = []
    for item in sorted(
        visible, key=lambda a: (utc(a.assessed_at), utc(a.recorded_at), a.attempt_id)
    ):
        voided = item.voided_at is not None and known_by(item.voided_at, as_of)
        replaced_by = superseded.get(item.attempt_id)
        result.append(
            AttemptAsOf(
                item, voided, replaced_by, _not_counted(item, voided, replaced_by, excluded_tags)
            )
        )
    return result


def _not_counted(
    item: Attempt, voided: bool, superseded_by: str | None, excluded_tags: frozenset[str]
) -> str | None:
    if voided:
        return f"voided: {item.void_reason or 'no reason given'}"
    if superseded_by:
        return f"corrected by a later entry ({superseded_by})"
    if item.status == "excused":
        return "excused: not a score"
    if item.status == "missing":
        return "missing (not handed in): not a score"
    excluded = (set(item.tags) | {item.assessment_kind}) & excluded_tags
    if excluded:
        return f"the policy does not count {', '.join(sorted(excluded))} evidence"
    if item.weight == 0:
        return "practice (formative): shown, not counted"
    return None


def last_evidence_at(attempts: Iterable[AttemptAsOf]) -> datetime | None:
    """When the newest attempt that was not voided was recorded."""
    times = [utc(a.attempt.recorded_at) for a in attempts if not a.voided]
    return max(times) if times else None
