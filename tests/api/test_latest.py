"""The latest-value sweep: every device that reported, however late its readings arrive."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ioc_api.services.latest import sweep_latest
from ioc_api.services.telemetry import latest_values
from tests.api.seed import ALPHA_DEVICE, BRAVO_DEVICE, seed
from tests.api.test_live import write_reading


@pytest.fixture
def seeded(db_settings, conn):
    seed(conn, db_settings, minutes=10)
    sweep_latest(conn, since=datetime.now(UTC))  # first sweep: syncs every device once
    return conn


def value_of(conn, device: str, metric: str) -> float:
    [found] = latest_values(conn, device_id=device, metric=metric)
    return found.value


def test_a_fresh_reading_moves_latest_and_is_reported_once(seeded):
    write_reading(seeded, ALPHA_DEVICE, "pm25", 321.0)
    changes = sweep_latest(seeded, since=datetime.now(UTC))
    assert [(c.device_id, c.metric, c.value) for c in changes] == [(ALPHA_DEVICE, "pm25", 321.0)]
    assert value_of(seeded, ALPHA_DEVICE, "pm25") == 321.0
    assert sweep_latest(seeded, since=datetime.now(UTC)) == []  # nothing new: nothing sent


def test_a_late_arriving_reading_is_caught_an_older_replay_is_not_taken(seeded):
    # Bravo's camera uploads a reading taken 30 s ago, after alpha reported live: a sweep keyed
    # on reading time would have moved past it; the last_seen bookkeeping does not.
    write_reading(seeded, ALPHA_DEVICE, "pm25", 1.0)
    sweep_latest(seeded, since=datetime.now(UTC))
    write_reading(seeded, BRAVO_DEVICE, "count_car_in", 77.0, age_s=30)
    sweep_latest(seeded, since=datetime.now(UTC))
    assert value_of(seeded, BRAVO_DEVICE, "count_car_in") == 77.0
    # A replay older than the stored latest changes nothing.
    write_reading(seeded, BRAVO_DEVICE, "count_car_in", 5.0, age_s=3600)
    assert sweep_latest(seeded, since=datetime.now(UTC)) == []
    assert value_of(seeded, BRAVO_DEVICE, "count_car_in") == 77.0


def test_latest_skips_retired_devices(seeded):
    seeded.execute("UPDATE devices SET retired_at = now() WHERE id = %s", (BRAVO_DEVICE,))
    assert {v.device_id for v in latest_values(seeded)} == {ALPHA_DEVICE}
