"""The metrics every service exports, recorded by the relay and the tracked consumers.

- ``arc.events.recorded`` (counter; subject): stored events the relay found to publish
  (counted on first read; the relay is woken on every write).
- ``arc.events.published`` (counter; subject, duplicate): publishes JetStream acknowledged
  (``duplicate``: it already had the message, e.g. a batch re-sent after a crash).
- ``arc.events.consumed`` (counter; subject, stream): messages a tracked consumer applied and
  committed.
- ``arc.consumer.lag`` (gauge; stream, consumer): messages on the consumer's subjects it has
  not applied yet (JetStream's ``num_pending`` plus what it holds); for a consumer of a whole
  stream, the stream's last sequence minus its position. ``consumer`` is the name its position
  is kept under (the stream, or the stream and partition).
- ``arc.projection.latency`` (histogram, s; subject, stream): from an event's storage at its
  source (``ce-time``) to its application by this consumer.
- ``arc.relay.latency`` (histogram, s; subject): from an event's storage to its PubAck.
- ``arc.relay.backlog`` (gauge; stream): newest notification id in the store minus the relay's
  confirmed position.

"Assessed → mastery published" is mastery's ``arc.projection.latency`` for
``arc.evidence.v1.attempt_recorded`` (attempt stored → MasteryChanged stored) plus its
``arc.relay.latency`` for ``arc.mastery.v1.mastery_changed`` (stored → acknowledged).

Instruments come from the global meter provider that :func:`arc_platform.telemetry.configure`
installs (none, so no cost, when no exporter is configured); tests pass their own meter.
"""

from __future__ import annotations

from opentelemetry import metrics
from opentelemetry.metrics import Meter

#: Seconds, from a few milliseconds (a healthy local pipeline) to minutes (a backlog).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class PlatformMetrics:
    def __init__(self, meter: Meter | None = None) -> None:
        meter = meter or metrics.get_meter("arc_platform")
        self.recorded = meter.create_counter(
            "arc.events.recorded",
            unit="{event}",
            description="Stored events the outbox relay found to publish, by subject.",
        )
        self.published = meter.create_counter(
            "arc.events.published",
            unit="{event}",
            description="Events JetStream acknowledged, by subject (duplicate: already stored).",
        )
        self.consumed = meter.create_counter(
            "arc.events.consumed",
            unit="{event}",
            description="Messages a tracked consumer applied and committed, by subject.",
        )
        self.consumer_lag = meter.create_gauge(
            "arc.consumer.lag",
            unit="{message}",
            description="Messages on the consumer's subjects it has not applied yet.",
        )
        self.projection_latency = meter.create_histogram(
            "arc.projection.latency",
            unit="s",
            description="From an event's storage at its source (ce-time) to its application.",
            explicit_bucket_boundaries_advisory=LATENCY_BUCKETS,
        )
        self.relay_latency = meter.create_histogram(
            "arc.relay.latency",
            unit="s",
            description="From an event's storage to JetStream's acknowledgement of it.",
            explicit_bucket_boundaries_advisory=LATENCY_BUCKETS,
        )
        self.relay_backlog = meter.create_gauge(
            "arc.relay.backlog",
            unit="{event}",
            description="Newest notification id in the store minus the relay's confirmed one.",
        )
