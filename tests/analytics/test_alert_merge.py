"""Several ingest workers' readings streams merged into event-time order: the merge on its own,
then two real workers out of step feeding the real engine."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from analytics.alerts.merge import StreamMerge
from analytics.alerts.runner import EngineRunner
from analytics.thresholds import RuleSpec
from analytics.thresholds.service import create_rule
from devices.readings_stream import RECORD
from devices.registry import DeviceIn, ensure_tenant, upsert_device
from tests.ingest.conftest import start_worker

S = 1_000_000  # microseconds


def rows(*times_s: float, key: int = 1) -> np.ndarray:
    out = np.zeros(len(times_s), dtype=RECORD)
    out["t"] = [int(t * S) for t in times_s]
    out["k"] = key
    out["v"] = times_s
    return out


def times(released: np.ndarray) -> list[float]:
    return [t / S for t in released["t"].tolist()]


def test_one_source_is_never_held() -> None:
    m: StreamMerge[str] = StreamMerge(idle_s=1.0)
    m.add("a", rows(10, 11), "m1", now=0.0)
    out, done = m.release(now=0.0)
    assert times(out) == [10, 11] and done == ["m1"] and len(m) == 0


def test_two_sources_are_judged_in_event_time_order() -> None:
    m: StreamMerge[str] = StreamMerge(idle_s=1.0)
    # Worker b commits the device's later readings before worker a commits the earlier one.
    m.add("b", rows(10.2, 10.6), "b1", now=0.0)
    m.add("a", rows(10.0), "a1", now=0.0)
    out, done = m.release(now=0.0)
    assert times(out) == [10.0]  # a has only reached 10.0: b's readings wait
    assert done == ["a1"]  # b1 still has readings held: not acknowledged yet
    m.add("a", rows(10.4, 10.8), "a2", now=0.1)
    out, done = m.release(now=0.1)
    assert times(out) == [10.2, 10.4, 10.6]  # both have passed 10.6 (b's watermark)
    assert done == ["b1"]
    assert len(m) == 1 and m.held_messages == 1  # 10.8 waits for b


def test_a_silent_source_stops_holding_the_others_back() -> None:
    m: StreamMerge[str] = StreamMerge(idle_s=1.0)
    m.add("a", rows(10.0), "a1", now=0.0)
    m.add("b", rows(11.0), "b1", now=0.0)
    assert times(m.release(now=0.0)[0]) == [10.0]
    m.add("b", rows(12.0), "b2", now=0.5)
    assert times(m.release(now=0.5)[0]) == []  # a is quiet, but only for half a second
    out, done = m.release(now=1.2)  # a silent for over idle_s: b alone decides
    assert times(out) == [11.0, 12.0] and done == ["b1", "b2"]


def test_an_empty_message_is_released_and_keeps_its_source_active() -> None:
    m: StreamMerge[str] = StreamMerge(idle_s=1.0)
    m.add("a", rows(10.0), "a1", now=0.0)
    m.add("b", rows(), "b0", now=0.0)  # b has sent nothing yet: holds a until it does
    out, done = m.release(now=0.0)
    assert times(out) == [] and done == ["b0"]
    m.add("b", rows(10.5), "b1", now=0.2)
    out, done = m.release(now=0.2)
    assert times(out) == [10.0] and done == ["a1"]


# --- against the real broker and database ---------------------------------------------------


def _two_workers_and_an_engine(db_settings, conn, tenant, merge_idle_s: float):
    """Two ingest workers on one shared subscription, the second committing 0.8 s behind the
    first, and the engine reading both streams; yields a publisher."""

    ensure_tenant(conn, tenant, "Sở NN&MT")
    for device in ("aq-001", "aq-002"):
        upsert_device(conn, DeviceIn(id=device, kind="air_quality_station", tenant_id=tenant))
    spec = RuleSpec(name="PM2.5 instant", kind="air_quality_station", metric="pm25",
                    scope_type="tenant", scope_value=tenant, comparison="above",
                    levels={"warning": 100}, clear_level=80)  # fmt: skip
    create_rule(conn, spec, changed_by="test", reason="merge test")
    shared = f"$share/{uuid.uuid4().hex[:8]}/ioc/v1/{tenant}/+/telemetry"
    workers = [
        start_worker(db_settings.model_copy(update={"ingest_flush_interval_s": flush_s}), tenant,
                     f"ingest-{uuid.uuid4().hex[:8]}", topic_filter=shared)
        for flush_s in (0.05, 0.8)
    ]  # fmt: skip
    settings = db_settings.model_copy(update={
        "alerts_shared_group": f"g{uuid.uuid4().hex[:8]}", "alerts_merge_idle_s": merge_idle_s,
    })  # fmt: skip
    runner = EngineRunner(settings, client_id=f"alerts-{uuid.uuid4().hex[:8]}")
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    assert runner.subscribed.wait(15)
    return workers, (runner, stop, thread)


def _alternate(db_settings, conn, tenant, merge_idle_s: float) -> list[tuple]:
    workers, (_, stop, thread) = _two_workers_and_an_engine(db_settings, conn, tenant, merge_idle_s)
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}")
    c.connect(db_settings.mqtt_host, db_settings.mqtt_port)
    c.loop_start()
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    try:
        # Traffic from another station first, as in a running city: both workers' streams are
        # known to the engine before the sequence starts.
        for i in range(10):
            body = {"v": 1, "ts": (t0 - timedelta(seconds=20 - i)).isoformat(), "seq": i,
                    "metrics": {"pm25": 20.0}}  # fmt: skip
            c.publish(f"ioc/v1/{tenant}/aq-002/telemetry", json.dumps(body), qos=1)
        deadline = time.monotonic() + 20
        while conn.execute("SELECT count(*) FROM telemetry").fetchone()[0] < 10 and (
            time.monotonic() < deadline
        ):
            time.sleep(0.02)
        for i in range(20):  # breach, clear, breach, ... one a second of event time
            body = {"v": 1, "ts": (t0 + timedelta(seconds=i)).isoformat(), "seq": i,
                    "metrics": {"pm25": 250.0 if i % 2 == 0 else 50.0}}  # fmt: skip
            c.publish(f"ioc/v1/{tenant}/aq-001/telemetry", json.dumps(body), qos=1)
            time.sleep(0.1)
        query = "SELECT count(*) FROM telemetry"
        deadline = time.monotonic() + 20
        while conn.execute(query).fetchone()[0] < 30 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(3)  # the engine: past the slow worker's commit and the idle limit
    finally:
        c.loop_stop()
        stop.set()
        thread.join(timeout=20)
        for w in workers:
            w.halt()
    rows = conn.execute(
        "SELECT event_time, last_event_time, state FROM alerts WHERE kind = 'threshold' "
        "ORDER BY event_time"
    ).fetchall()
    return [(a - t0, b - t0 if b else None, s) for a, b, s in rows]


@pytest.mark.db
@pytest.mark.broker
def test_two_workers_out_of_step_still_give_every_alert_in_order(db_settings, conn, tenant):

    # The slow worker commits every 0.8 s: an idle limit above that keeps it counted.
    got = _alternate(db_settings, conn, tenant, merge_idle_s=2.0)
    expected = [(timedelta(seconds=i), timedelta(seconds=i + 1), "resolved")
                for i in range(0, 20, 2)]  # fmt: skip
    assert got == expected, f"alerts (opened, last event, state) after t0: {got}"
