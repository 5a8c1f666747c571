"""SenML JSON (RFC 8428) on ``ioc/v1/{tenant}/{device}/senml``: resolved as the RFC says, then
held to the same profile checks as the native format."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from devices.registry import DeviceIn, ensure_tenant, upsert_device
from devices.topics import Channel, subscription
from ingest.decode import decode
from ingest.formats.senml import RELATIVE_TIME_LIMIT, UNIT_MAP
from ingest.readings import Decoded, Limits
from ingest.registry_cache import RegistryCache
from ingest.worker import IngestWorker
from tests.ingest.conftest import publish, wait_for

pytestmark = pytest.mark.db

LIMITS = Limits(
    max_payload_bytes=16_384, max_future=timedelta(minutes=5), max_past=timedelta(days=7)
)
NOW = datetime(2026, 11, 26, 3, 15, tzinfo=UTC)
# RFC 8428 section 5.1.2's base time: Tue Jun 8 18:01:16.001 UTC 2010.
RFC_BT = datetime(2010, 6, 8, 18, 1, 16, 1000, tzinfo=UTC)


@pytest.fixture
def register(conn, tenant):
    ensure_tenant(conn, tenant, "Test tenant")

    def register(device_id: str, kind: str = "air_quality_station") -> None:
        upsert_device(conn, DeviceIn(id=device_id, kind=kind, tenant_id=tenant))

    return register


@pytest.fixture
def read(conn, tenant):
    """Decode a pack sent on ``device``'s senml topic; rows come back as (metric, time, value)."""
    names = dict(conn.execute("SELECT id, name FROM metrics").fetchall())

    def read(
        device: str, pack: object, *, now: datetime = NOW
    ) -> tuple[list[tuple[str, datetime, float]], Decoded]:
        payload = pack if isinstance(pack, bytes) else json.dumps(pack).encode()
        cache = RegistryCache(conn)
        decoded = decode(
            f"ioc/v1/{tenant}/{device}/senml", payload, received_at=now, cache=cache, limits=LIMITS
        )
        return [(names[r[2]], r[0], r[3]) for r in decoded.rows], decoded

    return read


def reason(decoded: Decoded) -> str | None:
    return decoded.dead.reason if decoded.dead else None


# --- RFC 8428 section 5, the RFC's own examples ---------------------------------------------


def test_rfc_single_datapoint_names_a_device_but_no_metric(register, read):
    register("10e2073a01080063")
    rows, decoded = read("10e2073a01080063", [
        {"n": "urn:dev:ow:10e2073a01080063", "u": "Cel", "v": 23.1}
    ])  # fmt: skip
    assert rows == []
    assert reason(decoded) == "bad_name"
    assert "names the device but no metric" in decoded.dead.detail
    # Naming the metric after the device URN is all it takes.
    rows, decoded = read("10e2073a01080063", [
        {"n": "urn:dev:ow:10e2073a01080063:temperature", "u": "Cel", "v": 23.1}
    ])  # fmt: skip
    assert rows == [("temperature", NOW, 23.1)] and decoded.dead is None


def test_rfc_multiple_datapoints(register, read):
    register("10e2073a01080063", "street_light")
    rows, decoded = read("10e2073a01080063", [
        {"bn": "urn:dev:ow:10e2073a01080063:", "n": "voltage", "u": "V", "v": 120.1},
        {"n": "current", "u": "A", "v": 1.2},
    ])  # fmt: skip
    assert decoded.dead is None
    assert rows == [("voltage", NOW, 120.1), ("current", NOW, 1.2)]


def test_rfc_multiple_measurements_with_base_time_unit_and_version(register, read):
    register("10e2073a0108006", "street_light")
    pack = [
        {"bn": "urn:dev:ow:10e2073a0108006:", "bt": 1.276020076001e09, "bu": "A", "bver": 5,
         "n": "voltage", "u": "V", "v": 120.1},
        {"n": "current", "t": -5, "v": 1.2},
        {"n": "current", "t": -4, "v": 1.3},
        {"n": "current", "t": -3, "v": 1.4},
        {"n": "current", "t": -2, "v": 1.5},
        {"n": "current", "t": -1, "v": 1.6},
        {"n": "current", "v": 1.7},
    ]  # fmt: skip
    rows, decoded = read("10e2073a0108006", pack, now=RFC_BT + timedelta(seconds=2))
    assert decoded.dead is None
    # Section 5.1.4 (resolved data): the same readings with absolute times.
    assert rows == [("voltage", RFC_BT, 120.1)] + [
        ("current", RFC_BT - timedelta(seconds=5 - i), 1.2 + i / 10) for i in range(6)
    ]


def test_rfc_multiple_data_types_keep_the_numbers_and_refuse_the_rest(register, read):
    register("10e2073a01080063")
    rows, decoded = read("10e2073a01080063", [
        {"bn": "urn:dev:ow:10e2073a01080063:", "n": "temperature", "u": "Cel", "v": 23.1},
        {"n": "label", "vs": "Machine Room"},
        {"n": "open", "vb": False},
        {"n": "nfv-reader", "vd": "aGkgCg"},
    ])  # fmt: skip
    assert rows == [("temperature", NOW, 23.1)]
    assert reason(decoded) == "non_numeric"
    detail = decoded.dead.detail
    assert detail.startswith("dropped 3 of 4 metrics (kept 1): ")
    for part in ("record 1 (label): vs is a string", "record 2 (open): vb is a boolean",
                 "record 3 (nfv-reader): vd is binary data"):  # fmt: skip
        assert part in detail


def test_rfc_base_name_only_pack_with_units_as_names_is_refused(register, read):
    # Section 5.1.5 names only the device and tells the quantities apart by unit; our readings
    # need a metric name, so each record says so instead of being guessed at.
    register("10e2073a01080063", "weather_station")
    rows, decoded = read("10e2073a01080063", [
        {"bn": "urn:dev:ow:10e2073a01080063", "bt": NOW.timestamp(), "bu": "%RH", "v": 20},
        {"u": "lon", "v": 24.30621},
        {"t": 60, "v": 20.3},
    ])  # fmt: skip
    assert rows == [] and reason(decoded) == "bad_name"
    assert decoded.dead.detail.startswith("dropped 3 of 3 metrics (kept 0)")


# --- resolution -------------------------------------------------------------------------------


def test_times_below_2_28_are_relative_to_now_and_above_are_unix_seconds(register, read):
    register("aq-001")
    absolute = NOW - timedelta(minutes=3)
    rows, decoded = read("aq-001", [
        {"n": "pm25", "t": -60, "v": 10},
        {"n": "pm25", "v": 11},
        {"bt": -120, "n": "pm10", "t": 60, "v": 5},  # bt + t = -60
        {"bt": absolute.timestamp(), "n": "o3", "t": -60, "v": 40},
        {"bt": 0, "n": "no2", "t": RELATIVE_TIME_LIMIT - 1, "v": 1},  # relative: far future
    ])  # fmt: skip
    assert rows == [
        ("pm25", NOW - timedelta(seconds=60), 10.0),
        ("pm25", NOW, 11.0),
        ("pm10", NOW - timedelta(seconds=60), 5.0),
        ("o3", absolute - timedelta(seconds=60), 40.0),
    ]
    assert reason(decoded) == "ts_in_future"


def test_base_fields_apply_until_changed(register, read):
    register("aq-001")
    rows, decoded = read("aq-001", [
        {"bn": "aq-001/", "bu": "ug/m3", "bv": 30, "n": "pm25", "v": 5.5},
        {"n": "pm10", "v": 20},
        {"bv": 0, "bu": "Cel", "n": "temperature", "v": 27.4},
        {"bn": "", "n": "humidity", "u": "%", "v": 81},
    ])  # fmt: skip
    assert decoded.dead is None
    assert rows == [("pm25", NOW, 35.5), ("pm10", NOW, 50.0), ("temperature", NOW, 27.4),
                    ("humidity", NOW, 81.0)]  # fmt: skip


def test_a_record_with_only_base_fields_sets_them_for_the_rest(register, read):
    register("aq-001")
    rows, decoded = read("aq-001", [{"bn": "aq-001:", "bu": "ug/m3"}, {"n": "pm25", "v": 12}])
    assert rows == [("pm25", NOW, 12.0)] and decoded.dead is None


def test_records_for_another_device_are_dropped(register, read):
    register("aq-001")
    rows, decoded = read("aq-001", [
        {"n": "aq-002:pm25", "v": 1},
        {"n": "urn:dev:mac:0024befffe804ff1:pm25", "v": 2},
        {"n": "aq-001:pm10", "v": 3},
        {"bn": "aq-001/", "n": "o3", "v": 4},
    ])  # fmt: skip
    assert rows == [("pm10", NOW, 3.0), ("o3", NOW, 4.0)]
    assert reason(decoded) == "device_mismatch"
    assert decoded.dead.detail.startswith("dropped 2 of 4 metrics (kept 2)")
    assert "'aq-002'" in decoded.dead.detail and "'0024befffe804ff1'" in decoded.dead.detail


def test_sums_are_not_stored(register, read):
    register("cab-01", "lighting_cabinet")
    rows, decoded = read("cab-01", [
        {"n": "energy", "u": "kWh", "v": 1520.5, "s": 1520.5},  # v kept, s ignored
        {"n": "energy", "t": -900, "s": 1519.0},
    ])  # fmt: skip
    assert rows == [("energy", NOW, 1520.5)]
    assert reason(decoded) == "no_value"
    assert "only a sum" in decoded.dead.detail


# --- units ------------------------------------------------------------------------------------


def test_senml_units_are_converted_to_the_profile_unit(register, read):
    register("aq-001")
    rows, decoded = read("aq-001", [
        {"n": "pressure", "u": "Pa", "v": 101325},
        {"n": "humidity", "u": "%RH", "v": 81},
        {"n": "pm25", "u": "kg/m3", "v": 3.52e-8},
        {"n": "temperature", "u": "K", "v": 300.55},
        {"n": "pm10", "u": "ug/m3", "v": 61},  # a secondary unit spelled as the profile has it
        {"n": "o3", "v": 40},  # no unit: the profile's is assumed
    ])  # fmt: skip
    assert decoded.dead is None
    values = {name: value for name, _, value in rows}
    assert values == {"pressure": 1013.25, "humidity": 81.0, "pm25": pytest.approx(35.2),
                      "temperature": pytest.approx(27.4), "pm10": 61.0, "o3": 40.0}  # fmt: skip


def test_a_unit_the_profile_does_not_use_is_a_unit_mismatch(register, read):
    register("aq-001")
    rows, decoded = read("aq-001", [
        {"n": "pm25", "u": "ppm", "v": 1},
        {"n": "pm10", "u": "ug/m3", "v": 40},
        {"n": "pressure", "u": "bar", "v": 1},
        {"n": "temperature", "u": "%RH", "v": 20},
    ])  # fmt: skip
    assert rows == [("pm10", NOW, 40.0)]
    assert reason(decoded) == "unit_mismatch"
    detail = decoded.dead.detail
    assert detail.startswith("dropped 3 of 4 metrics (kept 1)")
    assert "pm25: unit 'ppm', the profile says 'ug/m3'" in detail
    assert "pressure: unit 'bar', the profile says 'hPa'" in detail


def test_the_unit_table_only_targets_units_the_catalogue_knows():
    from devices.units import UNITS

    assert {c.ucum for c in UNIT_MAP} <= set(UNITS)
    assert len({(c.senml, c.ucum) for c in UNIT_MAP}) == len(UNIT_MAP)


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pack", "code", "words"),
    [
        (b"[{not json", "not_json", "not JSON"),
        (b"[" * 5000, "not_json", "nested too deeply"),  # deeper than either parser goes
        ({"n": "pm25", "v": 1}, "bad_schema", "JSON array"),
        ([], "bad_schema", "empty"),
        ([{"n": "pm25", "v": 1}, 7], "bad_schema", "record 1 is not an object"),
        ([{"n": "pm25", "v": 1}, {"bt": "now", "n": "pm10", "v": 2}], "bad_schema",
         "record 1: bt must be a finite number"),
        ([{"bn": 5, "n": "pm25", "v": 1}], "bad_schema", "record 0: bn must be a string"),
        ([{"bver": 11, "n": "pm25", "v": 1}], "bad_schema", "bver must be an integer up to 10"),
        ([{"n": "pm25", "v": 1, "crc_": "x"}], "bad_schema", "'crc_' must be understood"),
        ([{"bn": "aq-001:"}], "bad_schema", "no record with a value"),
    ],
)  # fmt: skip
def test_a_broken_pack_is_refused_whole(register, read, pack, code, words):
    register("aq-001")
    rows, decoded = read("aq-001", pack)
    assert rows == [] and reason(decoded) == code
    assert words in decoded.dead.detail


@pytest.mark.parametrize(
    ("record", "code"),
    [
        ({"n": "pm25", "v": 1, "t": "soon"}, "bad_timestamp"),
        ({"n": "pm25", "v": 1, "t": 1e300}, "bad_timestamp"),
        ({"n": "pm25", "v": 1, "t": 946684800}, "ts_too_old"),  # 2000-01-01, absolute
        ({"n": "pm25", "v": "35"}, "non_numeric"),
        ({"n": "pm25", "v": True}, "non_numeric"),
        ({"n": "pm25", "v": 1, "vs": "1"}, "bad_schema"),
        ({"n": "pm25"}, "bad_schema"),
        ({"n": 25, "v": 1}, "bad_name"),
        ({"n": "pm 25", "v": 1}, "bad_name"),
        ({"v": 1}, "bad_name"),
        ({"n": "foo", "v": 1}, "unknown_metric"),
        ({"n": "pm25", "v": 5000}, "out_of_range"),
    ],
)
def test_a_bad_record_costs_only_itself(register, read, record, code):
    register("aq-001")
    rows, decoded = read("aq-001", [{"n": "pm10", "v": 20}, record])
    assert rows == [("pm10", NOW, 20.0)]
    assert reason(decoded) == code
    assert decoded.dead.detail.startswith("dropped 1 of 2 metrics (kept 1)")


def test_non_finite_values_from_the_lenient_parser(register, read):
    register("aq-001")
    rows, decoded = read(
        "aq-001", b'[{"n":"pm25","v":NaN},{"n":"pm10","v":3},{"n":"o3","v":1e999}]'
    )
    assert rows == [("pm10", NOW, 3.0)] and reason(decoded) == "non_finite"


def test_the_device_must_be_registered_in_the_topic_tenant(conn, register, read):
    rows, decoded = read("aq-404", [{"n": "pm25", "v": 1}])
    assert reason(decoded) == "unknown_device"
    ensure_tenant(conn, "other", "Other")
    upsert_device(conn, DeviceIn(id="aq-900", kind="air_quality_station", tenant_id="other"))
    rows, decoded = read("aq-900", [{"n": "pm25", "v": 1}])
    assert rows == [] and reason(decoded) == "tenant_mismatch"


# --- through the broker -----------------------------------------------------------------------


@pytest.mark.broker
def test_a_pack_published_on_the_senml_topic_is_stored(
    conn, register, db_settings, tenant, publisher
):
    register("aq-001")
    worker = IngestWorker(
        db_settings,
        topic_filter=subscription(Channel.SENML, tenant=tenant),
        client_id=f"ingest-{uuid.uuid4().hex[:8]}",
    )
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    assert worker.subscribed.wait(15)
    try:
        now = datetime.now(UTC).replace(microsecond=0)
        pack = [
            {"bn": "aq-001:", "bt": now.timestamp(), "bu": "ug/m3", "n": "pm25", "v": 35.2},
            {"n": "pm25", "t": -60, "v": 34.0},
            {"n": "pressure", "u": "Pa", "v": 101250},
            {"n": "aq-002:pm25", "v": 1},
        ]
        publish(publisher, f"ioc/v1/{tenant}/aq-001/senml", json.dumps(pack).encode())
        assert wait_for(conn, "SELECT count(*) FROM telemetry", 3) == 3
        assert wait_for(conn, "SELECT count(*) FROM dead_letters", 1) == 1
        stored = conn.execute(
            "SELECT m.name, t.time, t.value FROM telemetry t JOIN metrics m ON m.id = t.metric_id"
            " ORDER BY t.time, m.name"
        ).fetchall()
        assert stored == [("pm25", now - timedelta(seconds=60), 34.0), ("pm25", now, 35.2),
                          ("pressure", now, 1012.5)]  # fmt: skip
        row = conn.execute("SELECT reason, tenant_id, device_id FROM dead_letters").fetchone()
        assert row == ("device_mismatch", tenant, "aq-001")
    finally:
        stop.set()
        thread.join(20)


def test_the_unit_table_in_the_docs_is_the_one_ingest_uses():
    from tests.conftest import REPO

    text = (REPO / "docs" / "mqtt.md").read_text(encoding="utf-8")
    table = text.split("| SenML `u` | profile unit | profile value |", 1)[1].split("\n\n", 1)[0]
    documented = [
        tuple(cell.strip().strip("`") for cell in line.strip("|").split("|"))
        for line in table.splitlines()[2:]
    ]
    assert documented == [(c.senml, c.ucum, _formula(c)) for c in UNIT_MAP]


def _formula(conversion) -> str:
    def number(x: float) -> str:
        return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"

    text = "v"
    if conversion.multiply != 1:
        text += f" × {number(conversion.multiply)}"
    if conversion.divide != 1:
        text += f" / {number(conversion.divide)}"
    if conversion.add:
        text += f" {'+' if conversion.add > 0 else '−'} {number(abs(conversion.add))}"
    return "same value" if text == "v" else text


def documented_example(marker: str) -> tuple[str, bytes]:
    """Topic and payload of the ```text mosquitto_pub example in docs/mqtt.md containing
    ``marker`` (text fences: the demo the sh fences run against has no such devices)."""
    import re
    import shlex

    from tests.conftest import REPO

    text = (REPO / "docs" / "mqtt.md").read_text(encoding="utf-8")
    for block in re.findall(r"^```text\n(.*?)^```$", text, re.MULTILINE | re.DOTALL):
        if block.startswith("mosquitto_pub") and marker in block:
            args = shlex.split(block.replace("\\\n", " "))
            return args[args.index("-t") + 1], args[args.index("-m") + 1].encode()
    raise AssertionError(f"no documented example with {marker!r}")


def test_the_documented_example_stores_what_the_docs_say(register, read, tenant):
    register("aq-001")
    topic, payload = documented_example("/senml")
    assert topic == "ioc/v1/sonnmt/aq-001/senml"
    rows, decoded = read("aq-001", payload)
    assert decoded.dead is None
    assert rows == [("pm25", NOW, 35.2), ("pm10", NOW - timedelta(seconds=60), 61.0),
                    ("pressure", NOW, 1012.5)]  # fmt: skip
