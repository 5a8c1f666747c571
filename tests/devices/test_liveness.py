"""Liveness: transitions only, last wills told from goodbyes, silence raises one alert, uptime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devices.errors import DeviceNotFoundError
from devices.liveness import (
    latest_state,
    mark_silent_devices,
    record_status_event,
    record_status_message,
    status_history,
    uptime,
)
from devices.payloads import StatusV1
from devices.registry import DeviceIn, ensure_tenant, upsert_device

OPEN_ALERTS = "SELECT count(*) FROM alerts WHERE kind = 'connectivity' AND state <> 'resolved'"


@pytest.fixture
def station(conn, tenant) -> str:
    ensure_tenant(conn, tenant, "Sở NN&MT")
    upsert_device(conn, DeviceIn(id="aq-001", kind="air_quality_station", tenant_id=tenant))
    return "aq-001"


def seen(conn, device_id: str, ago: timedelta) -> None:
    conn.execute("UPDATE devices SET last_seen = now() - %s WHERE id = %s", (ago, device_id))


def status(state: str, ts: datetime, reason: str | None = None) -> StatusV1:
    return StatusV1(v=1, ts=ts, state=state, reason=reason)


def test_only_transitions_are_recorded(conn, station):
    assert latest_state(conn, station) is None
    assert record_status_event(conn, station, "online", source="device")
    assert not record_status_event(conn, station, "online", source="device")  # retained again
    assert record_status_event(conn, station, "offline", source="will")
    assert [e.state for e in status_history(conn, station)] == ["offline", "online"]
    assert latest_state(conn, station) == "offline"


def test_a_last_will_is_told_from_a_goodbye_by_its_timestamp(conn, station):
    connected = datetime.now(UTC) - timedelta(minutes=5)
    record_status_message(conn, station, status("online", connected))
    # The will was written at connect time, before the online message.
    record_status_message(conn, station, status("offline", connected - timedelta(seconds=0.2),
                                                "connection lost"))  # fmt: skip
    record_status_message(conn, station, status("online", connected + timedelta(minutes=1)))
    record_status_message(conn, station, status("offline", datetime.now(UTC), "maintenance"))
    history = [(e.state, e.source, e.reason) for e in reversed(status_history(conn, station))]
    assert history == [
        ("online", "device", None),
        ("offline", "will", "connection lost"),
        ("online", "device", None),
        ("offline", "device", "maintenance"),
    ]


def test_a_silent_device_goes_offline_with_one_alert_and_comes_back(conn, station, tenant):
    seen(conn, station, timedelta(seconds=30))  # 60 s interval: fresh
    assert mark_silent_devices(conn).came_back == [station]  # first seen: history starts
    seen(conn, station, timedelta(seconds=181))  # more than 3 x 60 s
    assert mark_silent_devices(conn).went_offline == [station]
    assert mark_silent_devices(conn).went_offline == []  # nothing new on the next pass
    alert = conn.execute(
        "SELECT severity, state, tenant_id, source, title FROM alerts WHERE device_id = %s",
        (station,),
    ).fetchall()
    assert alert == [("warning", "open", tenant, "liveness", f"{station} is offline")]
    latest = status_history(conn, station)[0]
    assert (latest.state, latest.source) == ("offline", "silence")
    assert "nothing received for 180 s" in (latest.reason or "")

    conn.execute("UPDATE alerts SET state = 'acknowledged'")
    mark_silent_devices(conn)
    assert conn.execute(OPEN_ALERTS).fetchone()[0] == 1  # acknowledged is still the one alert

    seen(conn, station, timedelta(seconds=1))
    assert mark_silent_devices(conn).came_back == [station]
    assert conn.execute(OPEN_ALERTS).fetchone()[0] == 0
    resolved = conn.execute("SELECT state, resolved_at IS NOT NULL FROM alerts").fetchone()
    assert resolved == ("resolved", True)
    latest = status_history(conn, station)[0]
    assert (latest.state, latest.source) == ("online", "telemetry")


def test_readings_older_than_a_last_will_do_not_bring_a_device_back(conn, station):
    seen(conn, station, timedelta(seconds=20))
    record_status_event(conn, station, "offline", source="will")
    sweep = mark_silent_devices(conn)
    assert sweep.came_back == [] and latest_state(conn, station) == "offline"
    seen(conn, station, -timedelta(seconds=1))  # a reading after the will
    assert mark_silent_devices(conn).came_back == [station]


def test_never_seen_and_retired_devices_raise_no_alert(conn, station, tenant):
    upsert_device(conn, DeviceIn(id="aq-002", kind="air_quality_station", tenant_id=tenant))
    seen(conn, station, timedelta(hours=1))
    mark_silent_devices(conn)
    assert conn.execute(OPEN_ALERTS).fetchone()[0] == 1  # aq-002 never reported
    conn.execute("UPDATE devices SET retired_at = now() WHERE id = %s", (station,))
    mark_silent_devices(conn)
    assert conn.execute(OPEN_ALERTS).fetchone()[0] == 0


def at_hours(conn, device_id: str, base: datetime, *events: tuple[float, str]) -> None:
    for hours, state in events:
        conn.execute(
            "INSERT INTO device_status_events (device_id, time, state, source) "
            "VALUES (%s, %s, %s, 'device')",
            (device_id, base + timedelta(hours=hours), state),
        )


def test_uptime_sums_spans_between_transitions(conn, station, tenant):
    base = datetime(2026, 3, 1, tzinfo=UTC)
    # online from -2 h, offline 06:00-09:00, online again, then offline from 20:00.
    at_hours(conn, station, base, (-2, "online"), (6, "offline"), (9, "online"), (20, "offline"))
    day = uptime(conn, device_id=station, since=base, until=base + timedelta(days=1))
    assert (day.online_s, day.offline_s, day.unknown_s) == (17 * 3600, 7 * 3600, 0)
    assert day.ratio == pytest.approx(17 / 24)
    # A second device known only from 12:00: the morning is unknown, not counted as down.
    upsert_device(conn, DeviceIn(id="aq-002", kind="air_quality_station", tenant_id=tenant))
    at_hours(conn, "aq-002", base, (12, "online"))
    agency = uptime(conn, tenant=tenant, since=base, until=base + timedelta(days=1))
    assert agency.devices == 2 and agency.unknown_s == 12 * 3600
    assert agency.online_s == (17 + 12) * 3600
    assert agency.ratio == pytest.approx(29 / 36)


def test_uptime_stops_at_now_and_checks_its_arguments(conn, station):
    now = datetime.now(UTC)
    at_hours(conn, station, now, (-1, "online"))
    report = uptime(conn, device_id=station, since=now - timedelta(hours=2),
                    until=now + timedelta(hours=5))  # fmt: skip
    assert report.unknown_s == pytest.approx(3600, abs=5)
    assert report.online_s == pytest.approx(3600, abs=5) and report.ratio == 1.0
    with pytest.raises(DeviceNotFoundError):
        uptime(conn, device_id="aq-404", since=now - timedelta(hours=1), until=now)
    with pytest.raises(ValueError, match="after since"):
        uptime(conn, device_id=station, since=now, until=now)
