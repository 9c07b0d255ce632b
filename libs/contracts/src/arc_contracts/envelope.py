"""CloudEvents 1.0 in NATS, binary mode: attributes in ``ce-*`` headers, the event as JSON body.

``Nats-Msg-Id`` repeats the CloudEvents id, so JetStream drops a re-sent copy within the
stream's duplicate window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from arc_contracts.base import ContractEvent
from arc_contracts.registry import event_class

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class Envelope:
    id: str
    source: str
    type: str
    time: datetime
    traceparent: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {
            "ce-specversion": SPEC_VERSION,
            "ce-id": self.id,
            "ce-source": self.source,
            "ce-type": self.type,
            "ce-time": self.time.isoformat(),
            "content-type": CONTENT_TYPE,
            "Nats-Msg-Id": self.id,
        }
        if self.traceparent:
            headers["traceparent"] = self.traceparent
        return headers


class MalformedMessage(ValueError):
    """A message on an Arc subject that does not honour its contract."""


def encode(
    event: ContractEvent, envelope: Envelope, partitions: int = 1
) -> tuple[str, bytes, dict[str, str]]:
    """Subject (with the partition for per-student events), body and headers for ``event``."""
    return event.published_subject(partitions), event.model_dump_json().encode(), envelope.headers()


def decode(headers: dict[str, str] | None, body: bytes) -> tuple[Envelope, ContractEvent]:
    headers = headers or {}
    missing = [h for h in ("ce-id", "ce-source", "ce-type", "ce-time") if h not in headers]
    if missing:
        raise MalformedMessage(f"missing CloudEvents headers: {', '.join(missing)}")
    if headers.get("ce-specversion") != SPEC_VERSION:
        raise MalformedMessage(f"unsupported ce-specversion {headers.get('ce-specversion')!r}")
    try:
        cls = event_class(headers["ce-type"])
        event = cls.model_validate_json(body)
        time = datetime.fromisoformat(headers["ce-time"])
    except (LookupError, ValidationError, ValueError) as exc:
        raise MalformedMessage(str(exc)) from exc
    envelope = Envelope(
        id=headers["ce-id"],
        source=headers["ce-source"],
        type=headers["ce-type"],
        time=time,
        traceparent=headers.get("traceparent"),
    )
    return envelope, event
