"""Ingest against the real broker and database: nothing lost, nothing doubled, nothing silent."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from ingest.worker import IngestWorker
from tests.ingest.conftest import publish, start_worker, telemetry, wait_for

pytestmark = [pytest.mark.db, pytest.mark.broker]

COUNT_ROWS = "SELECT count(*) FROM telemetry"
COUNT_DEAD = "SELECT count(*) FROM dead_letters"


def topic(tenant: str, device: str = "aq-001") -> str:
    return f"ioc/v1/{tenant}/{device}/telemetry"


def test_readings_are_stored_with_their_own_timestamp(conn, station, worker, publisher, tenant):
    ts = datetime.now(UTC).replace(microsecond=0)
    publish(publisher, topic(tenant), telemetry(1, {"pm25": 35.5, "pm10": 60, "o3": 40.25}, ts))
    assert wait_for(conn, COUNT_ROWS, 3) == 3
    rows = conn.execute(
        "SELECT m.name, t.value, t.time FROM telemetry t JOIN metrics m ON m.id = t.metric_id "
        "ORDER BY m.name"
    ).fetchall()
    assert rows == [("o3", 40.25, ts), ("pm10", 60.0, ts), ("pm25", 35.5, ts)]
    last_seen = conn.execute("SELECT last_seen FROM devices WHERE id='aq-001'").fetchone()[0]
    assert last_seen == ts


def test_a_redelivered_message_is_stored_once(conn, station, worker, publisher, tenant):
    payload = telemetry(7, {"pm25": 20.0})
    for _ in range(3):
        publish(publisher, topic(tenant), payload)
    publish(publisher, topic(tenant), telemetry(8, {"pm25": 21.0}))
    assert wait_for(conn, COUNT_ROWS, 2) == 2
    time.sleep(0.5)
    assert conn.execute(COUNT_ROWS).fetchone()[0] == 2
    assert worker.worker.stats.readings - worker.worker.stats.inserted == 2


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff\xfe garbage", "not_utf8"),
        (b"{not json", "not_json"),
        (b"[1, 2]", "bad_schema"),
        (b'{"v": 2, "ts": "2026-11-26T10:00:00+07:00", "seq": 1, "metrics": {"pm25": 1}}',
         "bad_schema"),
        (b'{"v": 1, "ts": "2026-11-26T10:00:00", "seq": 1, "metrics": {"pm25": 1}}',
         "bad_timestamp"),
        (b'{"v": 1, "ts": "yesterday", "seq": 1, "metrics": {"pm25": 1}}', "bad_timestamp"),
        (b'{"v": 1, "ts": "2000-01-01T00:00:00Z", "seq": 1, "metrics": {"pm25": 1}}',
         "ts_too_old"),
        (b'{"v": 1, "ts": "2100-01-01T00:00:00Z", "seq": 1, "metrics": {"pm25": 1}}',
         "ts_in_future"),
        (b'{"v": 1, "ts": "2026-11-26T10:00:00Z", "seq": -1, "metrics": {"pm25": 1}}',
         "bad_schema"),
        (b'{"v": 1, "ts": "2026-11-26T10:00:00Z", "seq": 1, "metrics": {}}', "bad_schema"),
        (b"x" * 20_000, "too_large"),
    ],
)  # fmt: skip
def test_bad_messages_become_dead_letters(
    conn, station, worker, publisher, tenant, payload, reason
):
    if b"2026-11-26T10:00:00Z" in payload:  # keep "valid" timestamps inside the window
        payload = payload.replace(b"2026-11-26T10:00:00Z", datetime.now(UTC).isoformat().encode())
    publish(publisher, topic(tenant), payload)
    publish(publisher, topic(tenant), telemetry(99, {"pm25": 5.0}))  # the loop goes on
    assert wait_for(conn, COUNT_ROWS, 1) == 1
    assert wait_for(conn, COUNT_DEAD, 1) == 1
    row = conn.execute(
        "SELECT reason, detail, topic, device_id, payload, payload_truncated FROM dead_letters"
    ).fetchone()
    assert row[0] == reason
    assert row[1]  # a human-readable detail
    assert row[2] == topic(tenant) and row[3] == "aq-001"
    assert bytes(row[4]) == payload[:4096] and row[5] == (len(payload) > 4096)


def test_unknown_device_and_foreign_tenant_are_rejected(conn, station, worker, publisher, tenant):
    publish(publisher, topic(tenant, "aq-999"), telemetry(1, {"pm25": 1.0}))
    assert wait_for(conn, COUNT_DEAD, 1) == 1
    assert conn.execute("SELECT reason FROM dead_letters").fetchone() == ("unknown_device",)
    # A device registered after ingest started is accepted at once.
    conn.execute(
        "INSERT INTO devices (id, kind, tenant_id) VALUES ('aq-new', 'air_quality_station', %s)",
        (tenant,),
    )
    publish(publisher, topic(tenant, "aq-new"), telemetry(1, {"pm25": 2.0}))
    assert wait_for(conn, COUNT_ROWS, 1) == 1


def test_valid_metrics_of_a_partly_bad_message_are_kept(conn, station, worker, publisher, tenant):
    metrics = {"pm25": 30.0, "pm10": "high", "o3": float("inf"), "no2": 99999.0, "foo": 1.0,
               "so2": True, "co": 800}  # fmt: skip
    payload = telemetry(3, metrics).replace(b"Infinity", b"1e999")
    publish(publisher, topic(tenant), payload)
    assert wait_for(conn, COUNT_DEAD, 1) == 1
    assert wait_for(conn, COUNT_ROWS, 2) == 2
    kept = {
        r[0]
        for r in conn.execute(
            "SELECT m.name FROM telemetry t JOIN metrics m ON m.id = t.metric_id"
        ).fetchall()
    }
    assert kept == {"pm25", "co"}
    reason, detail = conn.execute("SELECT reason, detail FROM dead_letters").fetchone()
    assert reason == "non_numeric"
    assert detail.startswith("dropped 5 of 7 metrics (kept 2)")
    for name in ("pm10", "o3", "no2", "foo", "so2"):
        assert name in detail
    assert "99999 outside [0, " in detail  # the out-of-range one says by how much


def test_wrong_channel_and_bad_topic(
    conn, station, db_settings, tenant, ingest_client_id, publisher
):
    # Subscribe wider than telemetry so non-telemetry and malformed topics reach the decoder.
    w = IngestWorker(db_settings, topic_filter=f"ioc/v1/{tenant}/#", client_id=ingest_client_id)
    stop = threading.Event()
    t = threading.Thread(target=w.run, args=(stop,), daemon=True)
    t.start()
    assert w.subscribed.wait(15)
    try:
        publish(publisher, f"ioc/v1/{tenant}/aq-001/status", b'{"v":1}')
        publish(publisher, f"ioc/v1/{tenant}/AQ-001/telemetry", telemetry(1, {"pm25": 1.0}))
        assert wait_for(conn, COUNT_DEAD, 2) == 2
        reasons = {r[0]: r[1] for r in conn.execute("SELECT reason, detail FROM dead_letters")}
        assert set(reasons) == {"wrong_channel", "bad_topic"}
        assert "device_id" in reasons["bad_topic"]
    finally:
        stop.set()
        t.join(20)


def test_messages_published_while_ingest_is_down_arrive_after_restart(
    conn, station, db_settings, tenant, ingest_client_id, publisher
):
    first = start_worker(db_settings, tenant, ingest_client_id)
    publish(publisher, topic(tenant), telemetry(1, {"pm25": 1.0}))
    assert wait_for(conn, COUNT_ROWS, 1) == 1
    first.halt()

    start = datetime.now(UTC) - timedelta(minutes=10)
    for i in range(500):
        publish_ts = start + timedelta(seconds=i)
        publisher.publish(topic(tenant), telemetry(2 + i, {"pm25": float(i)}, publish_ts), qos=1)
    time.sleep(1)
    assert conn.execute(COUNT_ROWS).fetchone()[0] == 1

    second = start_worker(db_settings, tenant, ingest_client_id)  # same persistent session
    try:
        assert wait_for(conn, COUNT_ROWS, 501) == 501
    finally:
        second.halt()


def test_a_conflicting_value_keeps_the_first_and_records_the_other(
    conn, station, worker, publisher, tenant
):
    ts = datetime.now(UTC).replace(microsecond=0)
    publish(publisher, topic(tenant), telemetry(1, {"pm25": 20.0, "pm10": 30.0}, ts))
    assert wait_for(conn, COUNT_ROWS, 2) == 2
    # Same device, metrics and time; pm25 differs, pm10 is a plain repeat.
    publish(publisher, topic(tenant), telemetry(2, {"pm25": 99.0, "pm10": 30.0}, ts))
    assert wait_for(conn, "SELECT count(*) FROM telemetry_conflicts", 1) == 1
    assert conn.execute(COUNT_ROWS).fetchone()[0] == 2
    stored = conn.execute(
        "SELECT t.value FROM telemetry t JOIN metrics m ON m.id = t.metric_id WHERE m.name='pm25'"
    ).fetchone()[0]
    assert stored == 20.0
    row = conn.execute(
        "SELECT c.time, d.id, m.name, c.stored_value, c.rejected_value FROM telemetry_conflicts c "
        "JOIN devices d ON d.key = c.device_key JOIN metrics m ON m.id = c.metric_id"
    ).fetchone()
    assert row == (ts, "aq-001", "pm25", 20.0, 99.0)


def test_late_and_out_of_order_readings_are_stored_and_their_hours_recorded(
    conn, station, worker, publisher, tenant
):
    now = datetime.now(UTC).replace(microsecond=0)
    late = now - timedelta(days=3, hours=5)
    publish(publisher, topic(tenant), telemetry(2, {"pm25": 2.0}, now))
    publish(publisher, topic(tenant), telemetry(1, {"pm25": 1.0, "pm10": 1.5}, late))
    assert wait_for(conn, COUNT_ROWS, 3) == 3
    hours = dict(conn.execute("SELECT hour, readings FROM telemetry_touched_hours").fetchall())
    assert hours == {
        now.replace(minute=0, second=0): 1,
        late.replace(minute=0, second=0): 2,
    }
    # Freshness follows the newest reading, not the last to arrive.
    assert conn.execute("SELECT last_seen FROM devices").fetchone()[0] == now


def test_last_seen_is_written_at_most_every_interval_and_catches_up(
    conn, station, db_settings, publisher, tenant, ingest_client_id
):
    """devices.last_seen is deferred to one statement an interval (it costs as much as the
    COPY at 10,000 msg/s), but the newest reading still lands once no more messages come."""
    settings = db_settings.model_copy(update={"ingest_freshness_interval_s": 5.0})
    running = start_worker(settings, tenant, ingest_client_id)
    try:
        first = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=10)
        publish(publisher, topic(tenant), telemetry(1, {"pm25": 1.0}, first))
        assert wait_for(conn, COUNT_ROWS, 1) == 1
        seen = "SELECT last_seen FROM devices WHERE id = 'aq-001'"
        assert conn.execute(seen).fetchone()[0] == first  # the first batch was due at once
        publish(publisher, topic(tenant), telemetry(2, {"pm25": 2.0}, first + timedelta(seconds=1)))
        assert wait_for(conn, COUNT_ROWS, 2) == 2
        assert conn.execute(seen).fetchone()[0] == first  # stored, freshness deferred
        deadline = time.monotonic() + 15
        while conn.execute(seen).fetchone()[0] != first + timedelta(seconds=1):
            assert time.monotonic() < deadline, "the deferred last_seen was never written"
            time.sleep(0.1)
    finally:
        running.halt()
