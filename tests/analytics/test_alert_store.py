"""apply_findings: one live alert per (kind, device, key), re-grading, resolving, the audit
trail and the outbox written with each change; liveness shares the dedupe index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from analytics.alerts import Finding, apply_findings
from devices.liveness import mark_silent_devices
from devices.registry import DeviceIn, ensure_tenant, upsert_device

T0 = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


@pytest.fixture
def station(conn, tenant) -> str:
    ensure_tenant(conn, tenant, "Sở NN&MT")
    upsert_device(conn, DeviceIn(id="aq-001", kind="air_quality_station", tenant_id=tenant))
    return "aq-001"


def finding(active: bool = True, severity: str = "warning", minutes: int = 0, key: str = "pm25",
            kind: str = "quality_flatline", device: str = "aq-001") -> Finding:  # fmt: skip
    return Finding(kind=kind, device_id=device, key=key, active=active, severity=severity,
                   time=T0 + timedelta(minutes=minutes), title="PM2.5 flat for 2 h",
                   reason="pm25 = 12.0 unchanged for 7200 s", metric="pm25", value=12.0,
                   labels={"detector": "test"})  # fmt: skip


def rows(conn, sql: str, *args: object) -> list[tuple]:
    return conn.execute(sql, args).fetchall()


def test_repeated_findings_open_one_alert_and_regrade_it(conn, station, tenant):
    first = apply_findings(conn, [finding(), finding(minutes=1)], source="quality")
    assert [(c.op, c.severity, c.tenant_id) for c in first] == [("opened", "warning", tenant)]
    again = apply_findings(conn, [finding(minutes=2)], source="quality")
    assert again == []
    worse = apply_findings(conn, [finding(severity="critical", minutes=3)], source="quality")
    assert [(c.op, c.severity) for c in worse] == [("severity", "critical")]
    alerts = rows(conn, "SELECT state, severity, event_time, last_event_time, labels FROM alerts")
    assert alerts == [("open", "critical", T0, T0 + timedelta(minutes=3), {"detector": "test"})]


def test_other_keys_are_other_alerts_and_clearing_resolves(conn, station):
    apply_findings(conn, [finding(), finding(key="pm10")], source="quality")
    assert rows(conn, "SELECT count(*) FROM alerts WHERE state = 'open'") == [(2,)]
    cleared = apply_findings(conn, [finding(active=False, minutes=5)], source="quality")
    assert [(c.op, c.key, c.state) for c in cleared] == [("resolved", "pm25", "resolved")]
    assert apply_findings(conn, [finding(active=False, minutes=6)], source="quality") == []
    # The condition returning after resolution is a new alert, not the old one reopened.
    assert [c.op for c in apply_findings(conn, [finding(minutes=7)], source="quality")] == [
        "opened"
    ]
    assert rows(conn, "SELECT count(*) FROM alerts WHERE key = 'pm25'") == [(2,)]


def test_every_change_is_audited_and_queued_for_notification(conn, station):
    apply_findings(conn, [finding()], source="quality")
    apply_findings(conn, [finding(severity="critical", minutes=1)], source="quality")
    apply_findings(conn, [finding(active=False, minutes=2)], source="quality")
    events = rows(conn, "SELECT actor, action, before->>'severity', after->>'severity', "
                        "after->>'state', note FROM alert_events ORDER BY id")  # fmt: skip
    assert [e[:2] for e in events] == [("quality", "open"), ("quality", "severity"),
                                       ("quality", "resolve")]  # fmt: skip
    assert events[1][2:4] == ("warning", "critical")
    assert events[2][4] == "resolved" and events[2][5] == "pm25 = 12.0 unchanged for 7200 s"
    outbox = rows(conn, "SELECT payload->>'op', payload->>'severity' FROM alert_outbox ORDER BY id")
    assert outbox == [("opened", "warning"), ("severity", "critical"), ("resolved", "critical")]


def test_unknown_devices_and_bad_findings(conn, station):
    assert apply_findings(conn, [finding(device="nope")], source="quality") == []
    with pytest.raises(ValueError, match="severity 'urgent'"):
        finding(severity="urgent")


def test_the_database_refuses_a_second_live_alert(conn, station):
    apply_findings(conn, [finding()], source="quality")
    conn.execute("UPDATE alerts SET state = 'acknowledged'")
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("""INSERT INTO alerts (kind, severity, device_id, key, title, source)
                        VALUES ('quality_flatline', 'warning', 'aq-001', 'pm25', 'x', 'x')""")


def test_liveness_and_the_engine_share_one_connectivity_alert(conn, station):
    down = Finding(kind="connectivity", device_id=station, key="", active=True,
                   severity="warning", time=datetime.now(UTC), title="aq-001 is offline",
                   reason="its last will arrived")  # fmt: skip
    assert [c.op for c in apply_findings(conn, [down], source="engine")] == ["opened"]
    conn.execute("UPDATE devices SET last_seen = now() - interval '1 hour' WHERE id = %s",
                 (station,))  # fmt: skip
    mark_silent_devices(conn)  # would open one; the engine's is already live
    assert rows(conn, "SELECT count(*), min(source) FROM alerts") == [(1, "engine")]
    conn.execute("UPDATE alerts SET state = 'closed', resolved_at = now(), closed_at = now()")
    mark_silent_devices(conn)  # a closed alert is history: the still-silent device gets a new one
    assert rows(conn, "SELECT state, source FROM alerts ORDER BY id") == [
        ("closed", "engine"), ("open", "liveness")]  # fmt: skip
