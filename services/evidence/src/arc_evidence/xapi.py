"""xAPI 1.0.3 statements: what evidence accepts, and how it completes them. Pure.

**Accepting** (the Statements resource): a statement must be a JSON object with only xAPI's
top-level properties, an ``actor`` (an Agent or Group with one identifier), a ``verb`` with an
IRI ``id``, and an ``object``; ``id`` (if given) must be a UUID, ``timestamp`` an ISO 8601
date-time, ``version`` 1.0.x, ``result.score`` consistent (``scaled`` in [-1, 1], ``raw`` within
``min``..``max``). Attachments are not supported. The LRS sets ``id`` (if absent), ``stored``,
``authority``, ``timestamp`` (if absent: = stored) and ``version`` (if absent: 1.0.0).

How an accepted statement becomes attempts: :mod:`arc_evidence.xapi_mapping`.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from arc_evidence.rules import Problem

XAPI_VERSION = "1.0.3"
VERSION_HEADER = "X-Experience-API-Version"
VOIDED_VERB = "http://adlnet.gov/expapi/verbs/voided"
OUTCOME_EXTENSION = "https://masteryarc.org/xapi/extensions/outcome"
KIND_EXTENSION = "https://masteryarc.org/xapi/extensions/assessment-kind"
AUTHORITY = {
    "objectType": "Agent",
    "name": "Mastery Arc evidence",
    "account": {"homePage": "https://masteryarc.org", "name": "arc-evidence"},
}
TOP_LEVEL = frozenset(
    {
        "id",
        "actor",
        "verb",
        "object",
        "result",
        "context",
        "timestamp",
        "stored",
        "authority",
        "version",
        "attachments",
    }
)
#: Set by the LRS: not part of what a client is compared on when it re-sends a statement.
SET_BY_LRS = ("stored", "authority", "version")
VERSION_PATTERN = re.compile(r"^1\.0(\.\d+)?$")
SHA1_PATTERN = re.compile(r"^[0-9a-f]{40}$")
PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class InvalidStatement(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.description}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class ReceivedStatement:
    statement_id: str
    body: dict[str, Any]  # as stored, with the properties the LRS sets
    fingerprint: str  # of what the client sent, to tell a retry from a conflicting statement
    voids: str | None  # the statement a voiding statement targets

    def json(self) -> str:
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False)


def supported_version(header: str | None) -> bool:
    return header is not None and bool(VERSION_PATTERN.match(header.strip()))


def receive(raw: Any, now: datetime, statement_id: str | None = None) -> ReceivedStatement:
    """Check a statement as sent and complete it as the LRS stores it, or raise
    :class:`InvalidStatement` naming every property at fault."""
    problems: list[Problem] = []
    if not isinstance(raw, dict):
        raise InvalidStatement([Problem("statement", "must be a JSON object")])
    for name in sorted(set(raw) - TOP_LEVEL):
        problems.append(Problem(member("", name), "is not an xAPI statement property"))
    given_id = raw.get("id")
    if given_id is not None and not _is_uuid(given_id):
        problems.append(Problem("id", f"{given_id!r} is not a UUID"))
    elif given_id and statement_id and str(given_id).lower() != statement_id.lower():
        problems.append(Problem("id", "differs from the statementId parameter"))
    _check_agent(raw.get("actor"), "actor", problems)
    _check_verb(raw.get("verb"), problems)
    voids = _check_object(raw.get("object"), raw.get("verb"), problems)
    _check_result(raw.get("result"), problems)
    _check_context(raw.get("context"), problems)
    timestamp = _check_timestamp(raw.get("timestamp"), problems)
    version = raw.get("version")
    if version is not None and (not isinstance(version, str) or not supported_version(version)):
        problems.append(Problem("version", f"{version!r} is not a supported version (1.0.x)"))
    if raw.get("attachments"):
        problems.append(Problem("attachments", "attachments are not supported by this LRS"))
    if problems:
        raise InvalidStatement(problems)
    final_id = str(given_id or statement_id or uuid.uuid4()).lower()
    sent = {k: v for k, v in raw.items() if k not in SET_BY_LRS} | {"id": final_id}
    stored_at = now.astimezone(UTC).isoformat()
    body = sent | {
        "timestamp": raw.get("timestamp") if timestamp else stored_at,
        "stored": stored_at,
        "authority": AUTHORITY,
        "version": version or "1.0.0",
    }
    return ReceivedStatement(final_id, body, _fingerprint(sent), voids.lower() if voids else None)


def _fingerprint(sent: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(sent, sort_keys=True).encode()).hexdigest()


def member(path: str, name: str) -> str:
    """Where property ``name`` of ``path`` is, as a person finds it: ``path.name``, or
    ``path["name"]`` when the name is not a plain word (``context.extensions[""]``); a
    statement's own odd property is ``statement["..."]``."""
    if PLAIN_NAME.match(name):
        return f"{path}.{name}" if path else name
    return f"{path or 'statement'}[{json.dumps(name, ensure_ascii=False)}]"


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def is_iri(value: Any) -> bool:
    return isinstance(value, str) and bool(urlsplit(value).scheme) and ":" in value


def _check_agent(agent: Any, path: str, problems: list[Problem]) -> None:
    if not isinstance(agent, dict):
        problems.append(Problem(path, "is required and must be an Agent or Group object"))
        return
    kind = agent.get("objectType", "Agent")
    if kind not in ("Agent", "Group"):
        problems.append(Problem(f"{path}.objectType", f"{kind!r} is not Agent or Group"))
        return
    identifiers = [k for k in ("mbox", "mbox_sha1sum", "openid", "account") if k in agent]
    if len(identifiers) > 1:
        problems.append(Problem(path, f"has several identifiers ({', '.join(identifiers)})"))
    elif not identifiers and not (kind == "Group" and isinstance(agent.get("member"), list)):
        problems.append(Problem(path, "needs one of mbox, mbox_sha1sum, openid or account"))
    mbox = agent.get("mbox")
    if mbox is not None and not (isinstance(mbox, str) and mbox.startswith("mailto:")):
        problems.append(Problem(f"{path}.mbox", "must be a mailto: IRI"))
    sha1 = agent.get("mbox_sha1sum")
    if sha1 is not None and not (isinstance(sha1, str) and SHA1_PATTERN.match(sha1)):
        problems.append(Problem(f"{path}.mbox_sha1sum", "must be 40 hexadecimal digits"))
    if "openid" in agent and not is_iri(agent["openid"]):
        problems.append(Problem(f"{path}.openid", "must be an IRI"))
    if "account" in agent:
        account = agent["account"]
        if not isinstance(account, dict):
            problems.append(Problem(f"{path}.account", "must be an object"))
        else:
            if not is_iri(account.get("homePage")):
                problems.append(Problem(f"{path}.account.homePage", "must be an IRL"))
            if not isinstance(account.get("name"), str) or not account["name"].strip():
                problems.append(Problem(f"{path}.account.name", "must be a non-empty string"))


def _check_verb(verb: Any, problems: list[Problem]) -> None:
    if not isinstance(verb, dict):
        problems.append(Problem("verb", "is required and must be an object"))
    elif not is_iri(verb.get("id")):
        problems.append(Problem("verb.id", "is required and must be an IRI"))
    elif "display" in verb and not _is_language_map(verb["display"]):
        problems.append(Problem("verb.display", "must be a language map"))


def _is_language_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _check_object(target: Any, verb: Any, problems: list[Problem]) -> str | None:
    """Checks ``object``; returns the target id if this is a voiding statement."""
    if not isinstance(target, dict):
        problems.append(Problem("object", "is required and must be an object"))
        return None
    kind = target.get("objectType", "Activity")
    voiding = isinstance(verb, dict) and verb.get("id") == VOIDED_VERB
    if voiding and kind != "StatementRef":
        problems.append(Problem("object.objectType", "a voiding statement targets a StatementRef"))
        return None
    if kind == "Activity":
        if not is_iri(target.get("id")):
            problems.append(Problem("object.id", "is required and must be an IRI"))
    elif kind == "StatementRef":
        if not _is_uuid(target.get("id")):
            problems.append(Problem("object.id", "a StatementRef id must be a UUID"))
        elif voiding:
            return str(target["id"])
    elif kind in ("Agent", "Group"):
        _check_agent(target, "object", problems)
    elif kind != "SubStatement":
        problems.append(Problem("object.objectType", f"unknown objectType {kind!r}"))
    return None


def number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _check_result(result: Any, problems: list[Problem]) -> None:
    if result is None:
        return
    if not isinstance(result, dict):
        problems.append(Problem("result", "must be an object"))
        return
    score = result.get("score")
    if score is None:
        return
    if not isinstance(score, dict):
        problems.append(Problem("result.score", "must be an object"))
        return
    numbers = {}
    for name in ("scaled", "raw", "min", "max"):
        if name in score:
            numbers[name] = number(score[name])
            if numbers[name] is None:
                problems.append(Problem(f"result.score.{name}", "must be a number"))
    scaled, raw = numbers.get("scaled"), numbers.get("raw")
    low, high = numbers.get("min"), numbers.get("max")
    if scaled is not None and not -1 <= scaled <= 1:
        problems.append(Problem("result.score.scaled", f"{scaled} is not between -1 and 1"))
    if low is not None and high is not None and low > high:
        problems.append(Problem("result.score.min", "is greater than max"))
    if raw is not None and low is not None and raw < low:
        problems.append(Problem("result.score.raw", f"{raw} is below min {low}"))
    if raw is not None and high is not None and raw > high:
        problems.append(Problem("result.score.raw", f"{raw} is above max {high}"))


def _check_context(context: Any, problems: list[Problem]) -> None:
    if context is None:
        return
    if not isinstance(context, dict):
        problems.append(Problem("context", "must be an object"))
        return
    if "registration" in context and not _is_uuid(context["registration"]):
        problems.append(Problem("context.registration", "must be a UUID"))
    if "instructor" in context:
        _check_agent(context["instructor"], "context.instructor", problems)
    activities = context.get("contextActivities", {})
    if not isinstance(activities, dict):
        problems.append(Problem("context.contextActivities", "must be an object"))
        activities = {}
    for kind, value in activities.items():
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            if not isinstance(item, dict) or not is_iri(item.get("id")):
                path = f"{member('context.contextActivities', kind)}[{index}].id"
                problems.append(Problem(path, "must be an activity with an IRI id"))
    extensions = context.get("extensions", {})
    if not isinstance(extensions, dict):
        problems.append(Problem("context.extensions", "must be an object keyed by IRIs"))
        return
    for key in extensions:
        if not is_iri(key):
            path = member("context.extensions", key)
            problems.append(Problem(path, "is not an IRI (extensions are keyed by IRIs)"))


def _check_timestamp(value: Any, problems: list[Problem]) -> datetime | None:
    if value is None:
        return None
    parsed = parse_timestamp(value)
    if parsed is None:
        problems.append(Problem("timestamp", f"{value!r} is not an ISO 8601 date-time"))
    return parsed


def parse_timestamp(value: Any) -> datetime | None:
    """ISO 8601 date-time; without a time zone it is taken as UTC."""
    if not isinstance(value, str) or "T" not in value.upper():
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
