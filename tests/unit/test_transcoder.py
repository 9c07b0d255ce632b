"""The services' transcoder writes exactly the bytes eventsourcing's own would, whichever path
it takes, and reads them back as the library does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar
from uuid import UUID

import pytest
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex
from hypothesis import given
from hypothesis import strategies as st

from arc_platform.auth.principal import Principal, RequestContext, Role
from arc_platform.settings import ServiceSettings
from arc_platform.transcoder import FastJSONTranscoder

Transcoder = TypeVar("Transcoder", bound=JSONTranscoder)


def registered(transcoder: Transcoder) -> Transcoder:
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


LIBRARY = registered(JSONTranscoder())
FAST = registered(FastJSONTranscoder())
NOW = datetime(2026, 11, 25, 9, 30, 12, 345678, tzinfo=UTC)


class Kind(StrEnum):
    TEST = "test"


EVIDENCE_NOTED = {
    "timestamp": NOW,
    "attempt_id": "0b8c3d0e-7f53-4c3a-9a7e-6c7e3b1f2a11",
    "status": "scored",
    "score": Decimal("3.50"),
    "assessed_at": NOW.astimezone(timezone(timedelta(hours=-5))),
    "recorded_at": NOW,
    "weight": Decimal(1),
    "tags": ["retake", "lab"],
    "kind": "test",
    "supersedes": None,
    "scale": {
        "levels": [{"value": Decimal(v), "label": f"Niveau {v} — é"} for v in (1, 2, 3, 4)],
        "minimum": Decimal(1),
        "step": None,
        "revision": 2,
    },
    "cause_event_id": "evt-1",
}


@pytest.mark.parametrize(
    "state",
    [
        EVIDENCE_NOTED,
        {"members": ("a", "b"), "count": 3, "flag": True, "nothing": None},
        # Written by the library's encoder: orjson would write these its own way or refuse.
        {"originator_id": UUID("5f1b7a8e-2a35-4a8f-9c55-1f0e4e3c2b1a")},
        {"nested": [{"at": [UUID(int=7)]}]},
        {"ratio": 1e-07, "half": 0.5},
        {"huge": 2**70},
        {"kind": Kind.TEST},
        {"by_number": {1: "one"}},
        {"text": 'emoji 🎓 and NUL \x00 and quote " and backslash \\'},
        {},
    ],
    ids=lambda state: ",".join(state) or "empty",
)
def test_writes_the_bytes_the_library_writes(state: dict[str, Any]) -> None:
    encoded = FAST.encode(state)
    assert encoded == LIBRARY.encode(state)
    assert FAST.decode(encoded) == LIBRARY.decode(encoded)


def test_takes_the_fast_path_only_for_values_both_write_alike() -> None:
    assert FAST._writes_alike(EVIDENCE_NOTED)
    assert not FAST._writes_alike({"id": UUID(int=1)})
    assert not FAST._writes_alike({"ratio": 0.5})
    assert not FAST._writes_alike({"kind": Kind.TEST})
    assert not FAST._writes_alike({1: "one"})
    # Unregistered Decimal: the library refuses it, and so does this transcoder.
    bare = FastJSONTranscoder()
    assert not bare._writes_alike({"score": Decimal(1)})
    with pytest.raises(TypeError):
        bare.encode({"score": Decimal(1)})


def test_a_lone_surrogate_fails_as_it_does_in_the_library() -> None:
    with pytest.raises(UnicodeEncodeError):
        LIBRARY.encode({"text": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        FAST.encode({"text": "\ud800"})


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.datetimes(timezones=st.just(UTC)),
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=6))
def test_any_state_of_these_values_is_written_identically(state: dict[str, Any]) -> None:
    try:
        expected = LIBRARY.encode(state)
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            FAST.encode(state)
        return
    assert FAST.encode(state) == expected


def test_every_service_store_uses_it() -> None:
    env = ServiceSettings(service_name="x").eventsourcing_env()
    assert env["TRANSCODER_TOPIC"] == "arc_platform.transcoder:FastJSONTranscoder"
    pg = ServiceSettings(service_name="x", database_url="postgresql://p@h/d").eventsourcing_env()
    assert pg["TRANSCODER_TOPIC"] == env["TRANSCODER_TOPIC"]


def test_a_stored_actor_takes_the_fast_path_and_is_written_as_before() -> None:
    """Every change a request makes is stored with its actor: when the actor held its roles as
    enums, every such event was written by the library's encoder."""
    principal = Principal("t-ada", frozenset({Role.TEACHER, Role.NETWORK_ADMIN}), client_id="app")
    actor = RequestContext(
        principal, "grpc", "/arc.evidence.v1.EvidenceService/RecordBatch"
    ).actor()
    assert actor["roles"] == ["network_admin", "teacher"]
    state = {**EVIDENCE_NOTED, "actor": actor}
    assert FAST._writes_alike(state)
    as_enums = {**state, "actor": {**actor, "roles": sorted(principal.roles)}}
    assert FAST.encode(state) == LIBRARY.encode(as_enums)  # the bytes stored before
