"""``make bench``: how fast Mastery Arc is, as ratios against the raw speed of JetStream and of
the event store measured in the same run on the same machine."""
