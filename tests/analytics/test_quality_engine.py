"""The quality detectors inside the real engine, on a real broker and database: every
entry point builds from settings and a connection; a frozen PM2.5 becomes a stored
``quality_flatline`` alert at the right event time and resolves when the sensor moves; a
humidity of 150 %, which ingest dead-letters and the engine therefore never decodes, still
becomes a ``quality_out_of_range`` alert through the dead-letter tail; the profile anomaly
detector learns from the ``telemetry_1h`` rollups at start."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from analytics.alerts import DETECTORS_GROUP
from analytics.alerts.engine import load_detectors
from analytics.alerts.runner import EngineRunner
from analytics.quality.anomaly import ProfileAnomalyDetector
from devices.registry import DeviceIn, ensure_tenant, upsert_device
from tests.ingest.conftest import start_worker

pytestmark = [pytest.mark.db, pytest.mark.broker]

QUALITY = {
    "quality_flatline", "quality_spike", "quality_out_of_range", "quality_dropout",
    "quality_pm_ratio", "anomaly", "anomaly_neighbour", "lamp_failure", "day_burning",
    "cable_theft", "congestion",
}  # fmt: skip


def eventually(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


@pytest.fixture
def station(conn, tenant) -> str:
    ensure_tenant(conn, tenant, "Sở NN&MT")
    upsert_device(conn, DeviceIn(id="aq-001", kind="air_quality_station", tenant_id=tenant,
                                 commune_code="11407", lat=20.83, lon=106.67))  # fmt: skip
    return "aq-001"


def test_every_quality_detector_is_registered_and_builds(db_settings, conn, station) -> None:
    names = {ep.name for ep in entry_points(group=DETECTORS_GROUP)}
    assert names >= QUALITY
    built = load_detectors(db_settings, conn)
    assert set(built) >= QUALITY  # a factory that raised would be missing here
    for name in QUALITY:
        assert callable(built[name].observe) and callable(built[name].tick)


def test_profile_learnt_from_hourly_rollups(db_settings, conn, station) -> None:
    key = conn.execute("SELECT key FROM devices WHERE id = 'aq-001'").fetchone()[0]
    metric = conn.execute(
        "SELECT id FROM metrics WHERE kind = 'air_quality_station' AND name = 'temperature'"
    ).fetchone()[0]
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    rows = [(now - timedelta(hours=h), 20.0 + (h % 24) / 4) for h in range(1, 24 * 5)]
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO telemetry_1h (bucket, device_key, metric_id, min, max, sum, count,
                                         last, last_time)
               VALUES (%s, %s, %s, %s, %s, %s * 60, 60, %s, %s)""",
            [(t, key, metric, v, v, v, v, t) for t, v in rows],
        )
    built = load_detectors(db_settings, conn)
    detector = built["anomaly"]
    assert isinstance(detector, ProfileAnomalyDetector)
    series = detector._series[("aq-001", "temperature")]
    expected = series.profile.expected(now - timedelta(hours=24) + timedelta(minutes=30))
    # Every stored hour h hours ago read 20 + (h mod 24) / 4: this hour of the day read 20.0.
    assert expected is not None and expected[0] == pytest.approx(20.0, abs=0.01)


@pytest.fixture
def pipeline(db_settings, tenant, station) -> Iterator[EngineRunner]:
    """Ingest (it writes the dead letters) and the alert engine, both on the real broker."""
    settings = db_settings.model_copy(
        update={"alerts_shared_group": f"g{uuid.uuid4().hex[:8]}", "alerts_tick_s": 0.2,
                "quality_out_of_range_poll_s": 0.2}
    )  # fmt: skip
    ingest = start_worker(settings, tenant, f"ingest-{uuid.uuid4().hex[:8]}")
    runner = EngineRunner(settings, client_id=f"alerts-{uuid.uuid4().hex[:8]}")
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    assert runner.subscribed.wait(15)
    yield runner
    stop.set()
    thread.join(timeout=20)
    ingest.halt()


@pytest.fixture
def publisher(db_settings) -> Iterator[mqtt.Client]:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}")
    c.connect(db_settings.mqtt_host, db_settings.mqtt_port)
    c.loop_start()
    yield c
    c.disconnect()
    c.loop_stop()


def test_flatline_and_out_of_range_through_engine_and_ingest(pipeline, publisher, conn,
                                                             tenant) -> None:  # fmt: skip
    t0 = (datetime.now(UTC) - timedelta(hours=1)).replace(second=0, microsecond=0)
    topic = f"ioc/v1/{tenant}/aq-001/telemetry"
    for i in range(40):
        humidity = 150.0 if i == 22 else 80.0 + (i % 5) / 10  # back in range from minute 23
        pm25 = 41.7 if 12 <= i < 34 else 30.0 + i / 10  # a varied past, then 22 minutes frozen
        body = {"v": 1, "ts": (t0 + timedelta(minutes=i)).isoformat(), "seq": i + 1,
                "metrics": {"pm25": pm25, "humidity": humidity}}  # fmt: skip
        publisher.publish(topic, json.dumps(body), qos=1).wait_for_publish(5)

    def alerts():
        return conn.execute(
            "SELECT kind, key, state, event_time, reason FROM alerts WHERE device_id = 'aq-001'"
            " AND kind LIKE 'quality_%' ORDER BY kind"
        ).fetchall()

    done = eventually(lambda: [a for a in alerts() if a[2] == "resolved"] if len(
        [a for a in alerts() if a[2] == "resolved"]) == 2 else None)  # fmt: skip
    assert done, f"alerts: {alerts()}"
    (flat, oor) = alerts()
    assert flat[:3] == ("quality_flatline", "pm25", "resolved")
    assert flat[3] == t0 + timedelta(minutes=27)  # 16 identical readings, 15 minutes
    assert "41.7 ug/m3" in flat[4]
    assert oor[:3] == ("quality_out_of_range", "humidity", "resolved")
    assert oor[3] == t0 + timedelta(minutes=22)  # the device's own timestamp
    assert "150 %" in oor[4] and "above the maximum" in oor[4]
    dead = conn.execute("SELECT reason FROM dead_letters WHERE device_id = 'aq-001'").fetchall()
    assert dead == [("out_of_range",)]


def test_dropout_asks_whether_a_last_will_already_explains_the_silence(conn, tenant,
                                                                      station) -> None:  # fmt: skip
    from analytics.alerts import Finding, apply_findings
    from analytics.quality.dropout import ConnectivityAlerts

    offline = ConnectivityAlerts(conn)
    assert offline("aq-001") is False
    at = datetime.now(UTC) - timedelta(minutes=5)
    will = Finding(kind="connectivity", device_id="aq-001", key="link", active=True,
                   severity="warning", time=at, title="Offline", reason="last will")  # fmt: skip
    apply_findings(conn, [will], source="test")
    assert offline("aq-001") is True
    apply_findings(conn, [replace(will, active=False, time=at + timedelta(minutes=1))],
                   source="test")  # fmt: skip
    assert offline("aq-001") is False


def test_neighbours_registered_after_the_detector_started_are_found(conn, tenant) -> None:
    """The engine starts before a fleet is registered; its first readings find no coordinates,
    and the neighbour lists must not stay empty once the registry has them."""
    from analytics.alerts import Reading
    from analytics.quality.anomaly_neighbour import NeighbourAnomalyDetector
    from analytics.quality.directory import Locations

    detector = NeighbourAnomalyDetector(locations=Locations(conn, reload_after_s=0))
    ensure_tenant(conn, tenant, "Sở NN&MT")
    t0 = datetime.now(UTC) - timedelta(hours=1)
    ids = [f"ws-{i:03d}" for i in range(1, 6)]

    def feed(minutes: range) -> None:
        for m in minutes:
            for i, device in enumerate(ids):
                at, value = t0 + timedelta(minutes=m), 20.0 + i + (m % 7) / 10
                detector.observe(
                    Reading(device, tenant, "weather_station", None, "temperature", at, value)
                )

    feed(range(0, 10))  # unknown devices: nothing to compare yet
    probe = Reading(ids[0], tenant, "weather_station", None, "temperature", t0, 20.0)
    assert detector._neighbours(probe) == []
    for i, device in enumerate(ids):
        upsert_device(conn, DeviceIn(id=device, kind="weather_station", tenant_id=tenant,
                                     lat=20.80 + 0.02 * i, lon=106.65 + 0.02 * i))  # fmt: skip
    feed(range(10, 20))
    assert [d for _, d in detector._neighbours(probe)] == ids[1:]
