"""Integrators read our events by one subject convention, with CloudEvents headers."""

from __future__ import annotations

import pytest

from arc_contracts import Envelope, MalformedMessage, MasteryChangedV1, decode, encode
from arc_contracts.registry import ALL_EVENTS
from arc_platform.relay import event_id
from tests.support.events import mastery_changed

EVENT = mastery_changed()
ENVELOPE = Envelope(
    "id-1", "/arc/mastery", MasteryChangedV1.event_type(), EVENT.changed_at, "00-ab-cd-01"
)


def test_subjects_and_types_follow_one_convention() -> None:
    for cls in ALL_EVENTS:
        assert cls.subject() == f"arc.{cls.context}.v{cls.version}.{cls.name}"
        assert cls.event_type() == f"org.masteryarc.{cls.context}.{cls.name}.v{cls.version}"
    assert len({cls.subject() for cls in ALL_EVENTS}) == len(ALL_EVENTS)


def test_encode_then_decode_round_trips_with_cloudevents_headers() -> None:
    subject, body, headers = encode(EVENT, ENVELOPE)
    assert subject == "arc.mastery.v1.mastery_changed.p0"  # one partition: p0
    assert headers["ce-specversion"] == "1.0" and headers["Nats-Msg-Id"] == "id-1"
    assert headers["traceparent"] == "00-ab-cd-01"
    envelope, event = decode(headers, body)
    assert event == EVENT and envelope == ENVELOPE


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda h, b: ({k: v for k, v in h.items() if k != "ce-type"}, b), "ce-type"),
        (lambda h, b: (h | {"ce-specversion": "0.3"}, b), "specversion"),
        (lambda h, b: (h | {"ce-type": "org.masteryarc.x.y.v9"}, b), "unknown event type"),
        (lambda h, b: (h, b.replace(b'"status":"mastered"', b'"status":"perhaps"')), "status"),
        (lambda h, b: (h, b[:-1] + b',"extra":1}'), "extra"),
    ],
)
def test_malformed_messages_are_refused_with_a_reason(mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    _, body, headers = encode(EVENT, ENVELOPE)
    bad_headers, bad_body = mutate(headers, body)
    with pytest.raises(MalformedMessage, match=message):
        decode(bad_headers, bad_body)


def test_event_ids_are_stable_and_distinct() -> None:
    assert event_id("agg", 1) == event_id("agg", 1)
    assert event_id("agg", 1) != event_id("agg", 2)
