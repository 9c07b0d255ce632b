"""The bench's ratios: each figure against the raw limit measured in the same run, and the
mastery rebuild's store-bound ceiling (what it could reach if it only wrote what it writes)."""

from __future__ import annotations

from typing import Any

import pytest

from bench.__main__ import marginal_bytes_per_pair, ratios, rebuild_ceiling

RAW = {
    "jetstream_publish": 40_000.0,
    "batched_append": 12_000.0,
    "bulk_append": 10_000.0,
    "single_append": 3_000.0,
    "decoded_read": 100_000.0,
}


def run(stored_events: int | None) -> dict[str, Any]:
    return {
        "ingest_batched_per_s": 1_200.0,
        "rebuild_mastery": {
            "events": 1_000,
            "events_per_s": 2_000.0,
            "stored_events": stored_events,
        },
        "rebuild_reporting": {"events": 1_500, "events_per_s": 7_000.0},
    }


def test_the_ceiling_is_the_bulk_append_rate_over_the_events_stored_per_event_read() -> None:
    # 2.5 events stored per event read: the store's 10,000/s allow at most 4,000 read per second.
    assert rebuild_ceiling(RAW, run(2_500)["rebuild_mastery"]) == pytest.approx(4_000.0)
    assert rebuild_ceiling(RAW, run(1_000)["rebuild_mastery"]) == pytest.approx(10_000.0)


@pytest.mark.parametrize("stored", [None, 0])
def test_no_ceiling_without_a_count_of_stored_events(stored: int | None) -> None:
    assert rebuild_ceiling(RAW, run(stored)["rebuild_mastery"]) is None


def test_every_ratio_is_against_the_limit_of_the_same_run() -> None:
    found = ratios({"raw": RAW, "scales": [run(2_500)]})

    assert found["batched ingest / raw batched append"] == pytest.approx(0.1)
    assert found["batched ingest / raw JetStream publish"] == pytest.approx(0.03)
    assert found["mastery rebuild / raw decoded read"] == pytest.approx(0.02)
    assert found["reporting rebuild / raw decoded read"] == pytest.approx(0.07)
    assert found["mastery rebuild ceiling (store append bound) / raw decoded read"] == (
        pytest.approx(0.04)
    )
    assert found["mastery rebuild / its store-bound ceiling"] == pytest.approx(0.5)
    assert "single ingest / raw single append" not in found  # only measured at the first scale


def test_rebuilds_are_also_set_against_the_bus_read_rate_when_it_was_measured() -> None:
    found = ratios({"raw": {**RAW, "jetstream_read": 80_000.0}, "scales": [run(2_500)]})

    assert found["raw JetStream read / raw decoded read (bounds every rebuild)"] == (
        pytest.approx(0.8)
    )
    assert found["mastery rebuild / raw JetStream read"] == pytest.approx(0.025)
    assert found["reporting rebuild / raw JetStream read"] == pytest.approx(0.0875)
    without = ratios({"raw": RAW, "scales": [run(2_500)]})
    assert not [name for name in without if "JetStream read" in name]


def test_a_run_without_stored_events_has_no_ceiling_rows() -> None:
    found = ratios({"raw": RAW, "scales": [run(None)]})
    assert not [name for name in found if "ceiling" in name]


def test_the_marginal_cost_of_a_pair_leaves_out_what_every_rebuild_holds() -> None:
    # 40 MB held whatever the size, and 1,000 bytes a pair: 2,000 pairs grow 41.9 MB (21 KB a
    # pair when divided), 12,000 pairs 51.4 MB.
    small = {"pairs_in_projection": 2_000, "projection_growth_mb": 40 + 2_000_000 / 2**20}
    large = {"pairs_in_projection": 12_000, "projection_growth_mb": 40 + 12_000_000 / 2**20}
    assert marginal_bytes_per_pair([large, small]) == pytest.approx(1_000)


@pytest.mark.parametrize(
    "scales",
    [
        [],
        [{"pairs_in_projection": 2_000, "projection_growth_mb": 40.0}],
        [
            {"pairs_in_projection": 2_000, "projection_growth_mb": 40.0},
            {"pairs_in_projection": 2_000, "projection_growth_mb": 41.0},
        ],
    ],
)
def test_no_marginal_cost_without_two_sizes(scales: list[dict[str, Any]]) -> None:
    assert marginal_bytes_per_pair(scales) is None
