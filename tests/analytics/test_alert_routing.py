"""Routing: a detector that declares the kinds/metrics it watches sees only those readings;
one that declares nothing sees every reading (C4 as it was)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest

from analytics.alerts import Finding, Reading
from analytics.alerts.engine import AlertEngine
from analytics.thresholds import RuleSpec
from analytics.thresholds.service import create_rule
from devices.registry import DeviceIn, ensure_tenant, upsert_device


class Recorder:
    def __init__(self, kinds: Iterable[str] | None = None,
                 metrics: Iterable[str] | None = None) -> None:  # fmt: skip
        if kinds is not None:
            self.kinds = frozenset(kinds)
        if metrics is not None:
            self.metrics = frozenset(metrics)
        self.seen: list[tuple[str, str]] = []

    def observe(self, reading: Reading) -> list[Finding]:
        self.seen.append((reading.kind, reading.metric))
        return []

    def tick(self, watermark: datetime) -> list[Finding]:
        return []


@pytest.fixture
def fleet(conn, tenant) -> str:
    ensure_tenant(conn, tenant, "Sở NN&MT")
    upsert_device(conn, DeviceIn(id="aq-001", kind="air_quality_station", tenant_id=tenant))
    upsert_device(conn, DeviceIn(id="sl-001", kind="street_light", tenant_id=tenant))
    return tenant


def feed(engine: AlertEngine, tenant: str) -> None:
    now = datetime.now(UTC)
    for i in range(3):
        ts = (now - timedelta(minutes=10 - i)).isoformat()
        aq = f'{{"v":1,"ts":"{ts}","seq":{i},"metrics":{{"pm25":30,"pm10":50,"no2":20}}}}'
        sl = f'{{"v":1,"ts":"{ts}","seq":{i},"metrics":{{"state":1,"power":80}}}}'
        engine.handle(f"ioc/v1/{tenant}/aq-001/telemetry", aq.encode(), now)
        engine.handle(f"ioc/v1/{tenant}/sl-001/telemetry", sl.encode(), now)


def test_a_declared_interest_is_all_a_detector_sees(db_settings, conn, fleet):
    lights = Recorder(kinds={"street_light"})
    pm = Recorder(kinds={"air_quality_station"}, metrics={"pm25", "pm10"})
    power = Recorder(metrics={"power"})
    everything = Recorder()
    engine = AlertEngine(db_settings, conn, detectors={
        "lights": lights, "pm": pm, "power": power, "everything": everything})  # fmt: skip
    feed(engine, fleet)
    assert lights.seen == [("street_light", "state"), ("street_light", "power")] * 3
    assert pm.seen == [("air_quality_station", "pm25"), ("air_quality_station", "pm10")] * 3
    assert power.seen == [("street_light", "power")] * 3
    assert len(everything.seen) == 15 and engine.stats.readings == 15
    assert {k for k, _ in everything.seen} == {"air_quality_station", "street_light"}


def test_thresholds_interest_follows_the_rules_on_reload(db_settings, conn, fleet):
    engine = AlertEngine(db_settings, conn, detectors={})
    voltage = [name for name, _ in engine.observers("street_light", "voltage")]
    assert voltage == ["connectivity"]  # no rule on a street light yet
    spec = RuleSpec(name="Mains high", kind="street_light", metric="voltage",
                    scope_type="all", comparison="above", levels={"warning": 240})  # fmt: skip
    create_rule(conn, spec, changed_by="test", reason="routing test")
    engine.reload_rules()
    assert [n for n, _ in engine.observers("street_light", "voltage")] == [
        "thresholds", "connectivity"]  # fmt: skip
    # And the rule now judges the feed.
    now = datetime.now(UTC)
    body = f'{{"v":1,"ts":"{now.isoformat()}","seq":9,"metrics":{{"voltage":250}}}}'.encode()
    (finding,) = engine.handle(f"ioc/v1/{fleet}/sl-001/telemetry", body, now)
    assert (finding.kind, finding.metric, finding.severity) == ("threshold", "voltage", "warning")


def test_quality_detectors_declare_what_they_watch(db_settings, conn, fleet):
    engine = AlertEngine(db_settings, conn)

    def names(kind: str, metric: str) -> set[str]:
        return {name for name, _ in engine.observers(kind, metric)}

    lighting = {"lamp_failure", "day_burning", "cable_theft"}
    pm25 = names("air_quality_station", "pm25")
    assert not pm25 & (lighting | {"congestion", "anomaly", "anomaly_neighbour"})
    assert {"quality_flatline", "quality_spike", "quality_out_of_range", "quality_dropout",
            "quality_pm_ratio"} <= pm25  # fmt: skip
    assert {"anomaly", "anomaly_neighbour"} <= names("air_quality_station", "o3")
    assert "quality_pm_ratio" not in names("air_quality_station", "o3")
    light = names("street_light", "power")
    assert {"lamp_failure", "day_burning", "quality_dropout"} <= light
    assert not light & {"cable_theft", "congestion", "quality_pm_ratio", "quality_flatline"}
    assert {"day_burning", "cable_theft"} <= names("lighting_cabinet", "power")
    camera = names("traffic_camera", "occupancy")
    assert {"congestion", "quality_flatline"} <= camera and not camera & lighting
