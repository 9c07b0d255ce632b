"""Integrators read docs/asyncapi.json; it must describe exactly the events we publish."""

from __future__ import annotations

import json
from pathlib import Path

from arc_contracts.registry import ALL_EVENTS
from arc_platform.asyncapi import document

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"


def test_every_published_event_has_a_channel_with_its_schema() -> None:
    spec = document()
    channels = spec["channels"]
    assert isinstance(channels, dict)
    addresses = {channel["address"] for channel in channels.values()}
    assert addresses == {cls.subject() for cls in ALL_EVENTS}
    payloads = json.dumps(spec["components"])
    for cls in ALL_EVENTS:
        for field in cls.model_fields:
            assert f'"{field}"' in payloads, f"{cls.__name__}.{field} missing from the document"


def test_the_committed_document_is_up_to_date() -> None:
    assert json.loads(COMMITTED.read_text()) == document(), "run `make asyncapi` and commit"
