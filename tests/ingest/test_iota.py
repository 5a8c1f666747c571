"""FIWARE IoT Agent JSON measures on ``/json/{apikey}/{device}/attrs``: the API key's service
group names tenant, kind and attribute map; the registry still has the last word.

IoT Agent topics carry no tenant, so they share no prefix with another test's; every test uses
its own API key and device ids (uuid) so tests on the shared broker cannot see each other.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import pydantic
import pytest

from devices.registry import DeviceIn, ensure_tenant, upsert_device
from devices.service_groups import (
    ServiceGroupError,
    ServiceGroupIn,
    list_service_groups,
    upsert_service_group,
)
from ingest.decode import decode
from ingest.formats.iota import TOPIC_FILTERS
from ingest.readings import Decoded, Limits
from ingest.registry_cache import RegistryCache
from ingest.worker import IngestWorker, topic_filters
from ioc_core.settings import Settings
from tests.ingest.conftest import publish, wait_for
from tests.ingest.test_senml import documented_example

pytestmark = pytest.mark.db

LIMITS = Limits(
    max_payload_bytes=16_384, max_future=timedelta(minutes=5), max_past=timedelta(days=7)
)
NOW = datetime(2026, 11, 26, 3, 15, tzinfo=UTC)
ATTRIBUTES = {"t": "temperature", "h": "humidity", "pm2_5": "pm25"}


@dataclass
class Fleet:
    """A service group and a registered station of this test's own."""

    apikey: str
    device: str
    tenant: str


def add_group(conn: psycopg.Connection, apikey: str, tenant: str) -> None:
    group = ServiceGroupIn(
        apikey=apikey, tenant_id=tenant, kind="air_quality_station", attributes=ATTRIBUTES
    )
    upsert_service_group(conn, group)


@pytest.fixture
def fleet(conn, tenant) -> Fleet:
    ensure_tenant(conn, tenant, "Test tenant")
    found = Fleet(f"k{uuid.uuid4().hex}", f"aq-{uuid.uuid4().hex[:8]}", tenant)
    add_group(conn, found.apikey, tenant)
    upsert_device(conn, DeviceIn(id=found.device, kind="air_quality_station", tenant_id=tenant))
    return found


@pytest.fixture
def read(conn):
    """Decode a measure sent on ``topic``; rows come back as (metric, time, value)."""
    names = dict(conn.execute("SELECT id, name FROM metrics").fetchall())

    def read(
        topic: str, payload: object, *, now: datetime = NOW
    ) -> tuple[list[tuple[str, datetime, float]], Decoded]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        decoded = decode(topic, body, received_at=now, cache=RegistryCache(conn), limits=LIMITS)
        return [(names[r[2]], r[0], r[3]) for r in decoded.rows], decoded

    return read


def attrs(fleet: Fleet, *, device: str | None = None, legacy: bool = False) -> str:
    prefix = "" if legacy else "/json"
    return f"{prefix}/{fleet.apikey}/{device or fleet.device}/attrs"


def reason(decoded: Decoded) -> str | None:
    return decoded.dead.reason if decoded.dead else None


# --- measures ---------------------------------------------------------------------------------


def test_a_single_measure_maps_attributes_through_the_group(fleet, read):
    rows, decoded = read(attrs(fleet), {"t": 27.4, "h": 81, "pm2_5": 35.5, "pm10": 61})
    assert decoded.dead is None
    assert sorted(rows) == [("humidity", NOW, 81.0), ("pm10", NOW, 61.0), ("pm25", NOW, 35.5),
                            ("temperature", NOW, 27.4)]  # fmt: skip


def test_the_older_topic_without_json_works_the_same(fleet, read):
    rows, decoded = read(attrs(fleet, legacy=True), {"t": 27.4})
    assert rows == [("temperature", NOW, 27.4)] and decoded.dead is None


def test_time_instant_sets_the_reading_time(fleet, read):
    rows, _ = read(attrs(fleet), {"t": 27.0, "TimeInstant": "2026-11-26T10:10:00+07:00"})
    assert rows == [("temperature", NOW - timedelta(minutes=5), 27.0)]
    rows, _ = read(attrs(fleet), {"t": 27.0, "TimeInstant": "2026-11-26T03:14:00.000Z"})
    assert rows == [("temperature", NOW - timedelta(minutes=1), 27.0)]


def test_a_multi_measure_array_keeps_each_measure_time(fleet, read):
    rows, decoded = read(attrs(fleet), [
        {"pm2_5": 10, "TimeInstant": (NOW - timedelta(minutes=2)).isoformat()},
        {"pm2_5": 11, "TimeInstant": (NOW - timedelta(minutes=1)).isoformat()},
        {"pm2_5": 12},
    ])  # fmt: skip
    assert decoded.dead is None
    assert rows == [("pm25", NOW - timedelta(minutes=2), 10.0),
                    ("pm25", NOW - timedelta(minutes=1), 11.0), ("pm25", NOW, 12.0)]  # fmt: skip


def test_a_bad_time_instant_costs_only_its_measure(fleet, read):
    rows, decoded = read(attrs(fleet), [
        {"pm2_5": 10, "t": 25, "TimeInstant": "2026-11-26T03:14:00"},  # no offset
        {"pm2_5": 11},
    ])  # fmt: skip
    assert rows == [("pm25", NOW, 11.0)]
    assert reason(decoded) == "bad_timestamp"
    assert decoded.dead.detail.startswith("dropped 2 of 3 metrics (kept 1): pm25 (measure 0)")
    assert "has no UTC offset" in decoded.dead.detail


def test_values_are_held_to_the_profile(fleet, read):
    rows, decoded = read(attrs(fleet), {"t": 27.4, "h": "81", "pm2_5": 99999, "co2": 400})
    assert rows == [("temperature", NOW, 27.4)]
    assert reason(decoded) == "non_numeric"
    detail = decoded.dead.detail
    assert detail.startswith("dropped 3 of 4 metrics (kept 1)")
    assert "co2: not a metric of air_quality_station" in detail  # unmapped, tried as a name
    assert "pm25: 99999 outside" in detail


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ([], "empty"),
        (5, "got int"),
        ([{"t": 1}, "x"], "measure 1 is not a JSON object"),
        ({"TimeInstant": "2026-11-26T03:14:00Z"}, "has no attributes"),
    ],
)
def test_a_payload_of_the_wrong_shape_is_refused(fleet, read, payload, words):
    rows, decoded = read(attrs(fleet), payload)
    assert rows == [] and reason(decoded) == "bad_schema"
    assert words in decoded.dead.detail


def test_not_json(fleet, read):
    _, decoded = read(attrs(fleet), b"t|27.4")  # UltraLight 2.0 is another agent's format
    assert reason(decoded) == "not_json"
    _, decoded = read(attrs(fleet), b"[" * 5000)
    assert reason(decoded) == "not_json"


# --- who may send -----------------------------------------------------------------------------


def test_an_unknown_api_key_is_refused(fleet, read):
    for key in ("unknown-key-123", "short", fleet.apikey.upper()):
        rows, decoded = read(f"/json/{key}/{fleet.device}/attrs", {"t": 27.4})
        assert rows == [] and reason(decoded) == "unknown_apikey"
        assert decoded.dead.tenant_id is None and decoded.dead.device_id == fleet.device
        assert key not in decoded.dead.detail


def test_the_device_must_be_registered_in_the_group_tenant_and_kind(conn, fleet, read):
    _, decoded = read(attrs(fleet, device="aq-unknown"), {"t": 27.4})
    assert reason(decoded) == "unknown_device"
    assert decoded.dead.tenant_id == fleet.tenant

    ensure_tenant(conn, "other", "Other")
    upsert_device(conn, DeviceIn(id="aq-foreign", kind="air_quality_station", tenant_id="other"))
    _, decoded = read(attrs(fleet, device="aq-foreign"), {"t": 27.4})
    assert reason(decoded) == "tenant_mismatch"

    upsert_device(conn, DeviceIn(id="sl-001", kind="street_light", tenant_id=fleet.tenant))
    rows, decoded = read(attrs(fleet, device="sl-001"), {"t": 27.4})
    assert rows == [] and reason(decoded) == "kind_mismatch"
    assert "street_light" in decoded.dead.detail and "air_quality_station" in decoded.dead.detail


@pytest.mark.parametrize(
    "topic",
    ["/json/{key}/{dev}/cmdexe", "/json/{key}/{dev}/attrs/t", "/{key}/attrs",
     "/ioc/v1/t/d/telemetry", "/json/{key}/AQ-1/attrs"],
)  # fmt: skip
def test_topics_outside_the_iot_agent_grammar(fleet, read, topic):
    rows, decoded = read(topic.format(key=fleet.apikey, dev=fleet.device), {"t": 27.4})
    assert rows == [] and reason(decoded) == "bad_topic"


def test_size_and_encoding_are_checked_first(fleet, read):
    _, decoded = read(attrs(fleet), b"\xff\xfe")
    assert reason(decoded) == "not_utf8"
    _, decoded = read("/json/nokey/x/attrs", b"x" * 20_000)
    assert reason(decoded) == "too_large"


# --- service groups ---------------------------------------------------------------------------


def test_service_groups_are_listed_and_replaced(conn, fleet):
    (group,) = list_service_groups(conn)
    assert (group.apikey, group.tenant_id, group.kind, group.attributes) == (
        fleet.apikey, fleet.tenant, "air_quality_station", ATTRIBUTES
    )  # fmt: skip
    upsert_service_group(conn, ServiceGroupIn(apikey=fleet.apikey, tenant_id=fleet.tenant,
                                              kind="weather_station"))  # fmt: skip
    (group,) = list_service_groups(conn)
    assert (group.kind, group.attributes) == ("weather_station", {})


def test_service_group_provisioning_is_strict(conn, tenant):
    ensure_tenant(conn, tenant, "Test tenant")
    good = {"apikey": "abcdefgh1234", "tenant_id": tenant, "kind": "air_quality_station"}
    for bad in ({"apikey": "short"}, {"apikey": "has/slash-1234"}, {"colour": "red"},
                {"attributes": {"t": "Temperature"}}, {"kind": 5}):  # fmt: skip
        with pytest.raises(pydantic.ValidationError):
            ServiceGroupIn.model_validate({**good, **bad})
    with pytest.raises(ServiceGroupError, match="kind 'air_quality' has no profile"):
        upsert_service_group(conn, ServiceGroupIn(**{**good, "kind": "air_quality"}))
    with pytest.raises(ServiceGroupError, match="'t' maps to 'temp', not a metric"):
        upsert_service_group(conn, ServiceGroupIn(**good, attributes={"t": "temp"}))
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        upsert_service_group(conn, ServiceGroupIn(**{**good, "tenant_id": "nobody"}))
    assert list_service_groups(conn) == []


def test_a_group_created_after_ingest_started_is_found(conn, fleet):
    cache = RegistryCache(conn)
    assert cache.service_group("late-key-0001") is None
    upsert_service_group(conn, ServiceGroupIn(apikey="late-key-0002", tenant_id=fleet.tenant,
                                              kind="air_quality_station"))  # fmt: skip
    group = cache.service_group("late-key-0002")
    assert group is not None and group.tenant_id == fleet.tenant
    assert cache.service_group(fleet.apikey).attributes["t"] == "temperature"


def test_ingest_subscribes_to_senml_and_iot_agent_topics():
    settings = Settings(_env_file=None, environment="test")
    assert topic_filters(settings) == ["ioc/v1/+/+/telemetry", "ioc/v1/+/+/senml", *TOPIC_FILTERS]
    shared = topic_filters(settings.model_copy(update={"ingest_shared_group": "ingest"}))
    assert shared[2:] == ["$share/ingest//json/+/+/attrs", "$share/ingest//+/+/attrs"]


# --- through the broker -----------------------------------------------------------------------


@pytest.mark.broker
def test_measures_published_on_both_topics_are_stored(conn, fleet, db_settings, publisher):
    # Subscribed as production does with a shared group ("$share/g//json/..."), but to this
    # test's API key only.
    filters = [f"$share/g{uuid.uuid4().hex[:6]}/{f.replace('/+/', f'/{fleet.apikey}/', 1)}"
               for f in TOPIC_FILTERS]  # fmt: skip
    worker = IngestWorker(db_settings, topic_filter=filters,
                          client_id=f"ingest-{uuid.uuid4().hex[:8]}")  # fmt: skip
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    assert worker.subscribed.wait(15)
    try:
        now = datetime.now(UTC).replace(microsecond=0)
        earlier = (now - timedelta(minutes=1)).isoformat()
        publish(publisher, attrs(fleet), json.dumps({"t": 27.4, "pm2_5": 35.5}).encode())
        publish(publisher, attrs(fleet, legacy=True),
                json.dumps([{"h": 80, "TimeInstant": earlier}, {"h": 81}]).encode())  # fmt: skip
        publish(publisher, attrs(fleet, device="aq-nobody"), b'{"t": 1}')
        assert wait_for(conn, "SELECT count(*) FROM telemetry", 4) == 4
        assert wait_for(conn, "SELECT count(*) FROM dead_letters", 1) == 1
        stored = conn.execute(
            "SELECT m.name, t.time >= %s, t.value FROM telemetry t "
            "JOIN metrics m ON m.id = t.metric_id ORDER BY m.name, t.value",
            (now,),
        ).fetchall()
        assert stored == [("humidity", False, 80.0), ("humidity", True, 81.0),
                          ("pm25", True, 35.5), ("temperature", True, 27.4)]  # fmt: skip
        row = conn.execute("SELECT reason, tenant_id, device_id FROM dead_letters").fetchone()
        assert row == ("unknown_device", fleet.tenant, "aq-nobody")
    finally:
        stop.set()
        thread.join(20)


def test_the_documented_example_stores_what_the_docs_say(conn, tenant, read):
    topic, payload = documented_example("/attrs")
    _, _, apikey, device, _ = topic.split("/")
    ensure_tenant(conn, tenant, "Test tenant")
    add_group(conn, apikey, tenant)
    upsert_device(conn, DeviceIn(id=device, kind="air_quality_station", tenant_id=tenant))
    rows, decoded = read(topic, payload)
    assert decoded.dead is None
    assert sorted(rows) == [("humidity", NOW, 81.0), ("pm25", NOW, 35.2),
                            ("temperature", NOW, 27.4)]  # fmt: skip
