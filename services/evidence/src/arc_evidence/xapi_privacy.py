"""The personal parts of a stored xAPI statement, sealed (right to erasure, arc_platform.erasure).

A statement is about its actor: who they are (``actor``: name, mbox, account, ...), what they
answered (``result.response``), and who else it names (an Agent, Group or SubStatement
``object``, ``context.instructor``, ``context.team``). Each of those parts is stored as one
sealed string holding its JSON, with the key of the person the statement is about:

- an Agent identified by an account: the account's ``name``, the student id that mapping reads.
  A statement kept unmapped (outcome or student not known yet) is therefore already under that
  student's key when a retry maps it: nothing is re-sealed.
- any other actor (mbox, mbox_sha1sum, openid, a Group): never mapped to a student (mapping
  needs an account). It gets a key of its own in the vault, named ``xapi-agent:`` and an HMAC
  of its identifier under a secret that is also kept in the vault: the name in a sealed value
  is plain text, and a bare hash of an email address can be guessed.

The rest (verb, activity, score, timestamps) stays in plain text, as an attempt's score does.
Once the person is forgotten, the actor (and a personal ``object``) reads as an Agent named
:data:`REMOVED`, the other sealed parts are left out, and nothing new is stored about them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from arc_evidence.rules import MAX_ID
from arc_platform.erasure import REMOVED, PersonalData, PersonSealer, parse_sealed

#: Where personal data sits in a statement: (parent property, property).
PERSONAL_PARTS = (
    (None, "actor"),
    (None, "object"),
    ("result", "response"),
    ("context", "instructor"),
    ("context", "team"),
)
#: An ``object`` of these kinds names a person (an Activity or StatementRef does not).
PERSONAL_OBJECTS = frozenset({"Agent", "Group", "SubStatement"})
IDENTIFIERS = ("mbox", "mbox_sha1sum", "openid", "account")
#: The vault entry whose key names actors without an account (never a person's id).
AGENT_SECRET = "arc:xapi-agent-names"
AGENT_PREFIX = "xapi-agent:"
REMOVED_AGENT = {"objectType": "Agent", "name": REMOVED}


def seal_statement(body: dict[str, Any], personal: PersonalData | None) -> str:
    """The statement as stored: JSON text with its personal parts sealed (as it is without a
    vault). :class:`arc_platform.erasure.Forgotten` if its person was forgotten."""
    if personal is None:
        return _dumps(body)
    seal = personal.writer(person_of(body.get("actor"), personal))
    sealed = json.loads(_dumps(body))  # a copy to change
    for parent, name in PERSONAL_PARTS:
        holder = sealed if parent is None else sealed.get(parent)
        if isinstance(holder, dict) and name in holder and _is_personal(name, holder[name]):
            holder[name] = seal.text(_dumps(holder[name]))
    return _dumps(sealed)


def open_statement(stored: str, personal: PersonalData | None) -> dict[str, Any]:
    """The statement as sent (plus what the LRS set), its personal parts opened; once its
    person is forgotten, without them. Statements stored in plain text come back as they are."""
    body: dict[str, Any] = json.loads(stored)
    if personal is None:
        return body
    for parent, name in PERSONAL_PARTS:
        holder = body if parent is None else body.get(parent)
        if not isinstance(holder, dict) or not isinstance(holder.get(name), str):
            continue
        if parse_sealed(holder[name]) is None:
            continue  # a plain string (e.g. a response stored before sealing)
        opened = personal.open(holder[name])
        if opened != REMOVED and opened is not None:
            holder[name] = json.loads(opened)
        elif name in ("actor", "object"):
            holder[name] = dict(REMOVED_AGENT)
        else:
            del holder[name]
    return body


def person_of(actor: Any, personal: PersonalData) -> str:
    """Whose key seals a statement by ``actor``: the student an account names (as mapping
    reads it: stripped), or the actor's own key (see the module's description). A name that
    could be no student id (too long, control characters) is treated as an identifier."""
    if isinstance(actor, dict) and actor.get("objectType", "Agent") == "Agent":
        account = actor.get("account")
        name = account.get("name") if isinstance(account, dict) else None
        student_id = name.strip() if isinstance(name, str) else ""
        if _could_be_a_student(student_id):
            return student_id
    return _agent_key_name(actor, personal.writer(AGENT_SECRET))


def _could_be_a_student(student_id: str) -> bool:
    reserved = student_id == AGENT_SECRET or student_id.startswith(AGENT_PREFIX)
    return (
        bool(student_id) and len(student_id) <= MAX_ID and student_id.isprintable() and not reserved
    )


def _agent_key_name(actor: Any, secret: PersonSealer) -> str:
    if isinstance(actor, dict) and any(key in actor for key in IDENTIFIERS):
        identity: Any = {key: actor[key] for key in IDENTIFIERS if key in actor}
    else:
        identity = actor  # a Group known by its members only
    digest = hmac.new(secret.key, _dumps(identity, sort_keys=True).encode(), hashlib.sha256)
    return f"{AGENT_PREFIX}{digest.hexdigest()[:40]}"


def _is_personal(name: str, value: Any) -> bool:
    if name == "object":
        return isinstance(value, dict) and value.get("objectType") in PERSONAL_OBJECTS
    return value is not None


def _dumps(value: Any, sort_keys: bool = False) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)
