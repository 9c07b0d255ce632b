"""The bench's raw limits against a real nats-server: they finish, count what they sent and
leave no stream behind."""

from __future__ import annotations

import nats

from bench import raw


async def test_the_raw_bus_rates_take_every_message_and_clean_up(nats_url: str) -> None:
    published = await raw.jetstream_publish_rate(nats_url, messages=2_000, in_flight=64)
    # 2,050 in batches of 100: the last is half full, and the count must still reach it.
    read = await raw.jetstream_read_rate(nats_url, messages=2_050, batch=100)
    assert published > 0 and read > 0
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        names = [info.config.name for info in await js.streams_info()]
        assert "BENCH_RAW" not in names and "BENCH_READ" not in names
    finally:
        await nc.close()
