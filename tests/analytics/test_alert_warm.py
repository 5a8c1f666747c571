"""A restarted engine picks up where it was (live alerts, hourly means from the rollups), and
unacknowledged alerts escalate on the wall clock, audited and notified."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from analytics.alerts import Finding, apply_findings
from analytics.alerts.engine import AlertEngine
from analytics.alerts.escalation import escalate_due
from analytics.alerts.windows import hour_of
from devices.registry import DeviceIn, ensure_tenant, upsert_device


@pytest.fixture
def station(conn, tenant) -> str:
    ensure_tenant(conn, tenant, "Sở NN&MT")
    upsert_device(conn, DeviceIn(id="aq-001", kind="air_quality_station", tenant_id=tenant))
    return "aq-001"


def message(tenant: str, ts: datetime, pm25: float) -> tuple[str, bytes]:
    body = f'{{"v":1,"ts":"{ts.isoformat()}","seq":1,"metrics":{{"pm25":{pm25}}}}}'
    return f"ioc/v1/{tenant}/aq-001/telemetry", body.encode()


def test_a_24h_mean_is_judged_from_warmed_hours_after_a_restart(db_settings, conn, station,
                                                                tenant):  # fmt: skip
    now = datetime.now(UTC)
    current = hour_of(now)
    key, metric = conn.execute(
        "SELECT d.key, m.id FROM devices d, metrics m WHERE d.id = 'aq-001' "
        "AND m.kind = 'air_quality_station' AND m.name = 'pm25'").fetchone()  # fmt: skip
    # 23 complete hours at 60 ug/m3 before the last one (QCVN 24 h limit: 45, critical 90).
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO telemetry_1h (bucket, device_key, metric_id, min, max, sum, count,
                   last, last_time) VALUES (%s, %s, %s, 60, 60, 3600, 60, 60, %s)""",
            [(current - timedelta(hours=h), key, metric, current - timedelta(hours=h))
             for h in range(2, 25)],
        )  # fmt: skip
    engine = AlertEngine(db_settings, conn, detectors={}, now=now)
    # A reading in the last hour, one in this hour: the last hour closes, 24 means exist.
    findings = engine.handle(*message(tenant, current - timedelta(minutes=59), 60.0), now)
    findings += engine.handle(*message(tenant, current, 60.0), now)
    daily = [f for f in findings if f.key.startswith("rule:") and "24 h mean" in f.reason]
    assert [(f.severity, f.value, f.threshold) for f in daily if f.metric == "pm25"] == [
        ("warning", 60.0, 45.0)]  # fmt: skip
    assert [c.op for c in engine.commit(daily)] == ["opened"]

    # Another restart: the live alert is state, so a clean day resolves it.
    engine = AlertEngine(db_settings, conn, detectors={}, now=now)
    (rule_id,) = conn.execute("SELECT rule_id FROM alerts").fetchone()
    assert engine.thresholds.verdict(rule_id, "aq-001") == "warning"
    assert engine.thresholds.verdict(rule_id, "aq-002") is None


def test_unacknowledged_alerts_escalate_per_severity(conn, station):
    apply_findings(conn, [Finding(kind="quality_spike", device_id=station, key="pm25",
                                  active=True, severity="warning", time=datetime.now(UTC),
                                  title="spike", reason="x")], source="quality")  # fmt: skip
    after = {"warning": 3600.0, "critical": 900.0}
    assert escalate_due(conn, after, 2) == []  # just opened
    conn.execute("UPDATE alerts SET opened_at = now() - interval '2 hours'")
    (change,) = escalate_due(conn, after, 2)
    assert (change.op, change.escalation_level) == ("escalated", 1)
    assert escalate_due(conn, after, 2) == []  # the next step is an hour after this one
    conn.execute("UPDATE alerts SET escalated_at = now() - interval '2 hours'")
    assert [c.escalation_level for c in escalate_due(conn, after, 2)] == [2]
    conn.execute("UPDATE alerts SET escalated_at = now() - interval '2 hours'")
    assert escalate_due(conn, after, 2) == []  # at the maximum
    events = conn.execute("SELECT actor, after->>'escalation_level' FROM alert_events "
                          "WHERE action = 'escalate' ORDER BY id").fetchall()  # fmt: skip
    assert events == [("escalation", "1"), ("escalation", "2")]
    outbox = conn.execute("SELECT payload->>'op' FROM alert_outbox ORDER BY id").fetchall()
    assert [r[0] for r in outbox] == ["opened", "escalated", "escalated"]
    conn.execute("UPDATE alerts SET state = 'acknowledged', acknowledged_at = now(), "
                 "escalated_at = now() - interval '9 hours', escalation_level = 0")  # fmt: skip
    assert escalate_due(conn, after, 2) == []  # acknowledged alerts do not escalate


def test_the_engine_resolves_an_acknowledged_alert_when_the_condition_clears(conn, station):
    f = Finding(
        kind="quality_spike",
        device_id=station,
        key="pm25",
        active=True,
        severity="warning",
        time=datetime.now(UTC),
        title="spike",
        reason="x",
    )
    apply_findings(conn, [f], source="quality")
    conn.execute("UPDATE alerts SET state = 'acknowledged', acknowledged_at = now()")
    (change,) = apply_findings(conn, [replace(f, active=False, reason="back to normal")],
                               source="quality")  # fmt: skip
    assert (change.op, change.state) == ("resolved", "resolved")


def test_a_dropout_of_a_device_whose_last_will_stands_is_not_a_second_alert(
    db_settings, conn, station, tenant
):
    engine = AlertEngine(db_settings, conn, detectors={})
    now = datetime.now(UTC)
    connected = now - timedelta(hours=1)
    status = f"ioc/v1/{tenant}/aq-001/status"
    engine.handle(status, f'{{"v":1,"ts":"{connected.isoformat()}","state":"online"}}'.encode(),
                  now)  # fmt: skip
    will = f'{{"v":1,"ts":"{connected.isoformat()}","state":"offline","reason":"x"}}'.encode()
    (down,) = engine.handle(status, will, now)
    dropout = Finding(
        kind="quality_dropout",
        device_id=station,
        key="device",
        active=True,
        severity="advisory",
        time=now,
        title="silent",
        reason="no readings",
    )
    changes = engine.commit([down, dropout])
    assert [(c.kind, c.op) for c in changes] == [("connectivity", "opened")]
    assert engine.stats.suppressed == 1
    other = replace(dropout, device_id="aq-002")  # unknown device: passes, changes nothing
    assert engine.commit([other]) == [] and engine.stats.suppressed == 1


def test_an_engine_runs_the_detectors_it_is_given(db_settings, conn, station):
    only = db_settings.model_copy(update={"alerts_detectors": ["thresholds", "connectivity"]})
    assert set(AlertEngine(only, conn).detectors) == {"thresholds", "connectivity"}
    quality = db_settings.model_copy(update={"alerts_detectors": ["quality_*"]})
    names = set(AlertEngine(quality, conn).detectors)
    assert names and all(n.startswith("quality_") for n in names)
    everything = set(AlertEngine(db_settings, conn).detectors)
    assert {"thresholds", "connectivity"} < everything
    rest = db_settings.model_copy(update={"alerts_detectors": ["-thresholds", "-connectivity"]})
    assert set(AlertEngine(rest, conn).detectors) == everything - {"thresholds", "connectivity"}
