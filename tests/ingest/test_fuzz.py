"""Ingest against hostile traffic: it stays up, stores the valid, dead-letters the rest.

The issue's words: "A fuzz test sends thousands of malformed and hostile payloads (random bytes,
huge numbers, NaN, nested garbage, bad UTF-8, 1 MB bodies, topics with wildcards or unicode):
the worker stays up, the valid traffic beside it is all stored, and every bad message is in
dead letters with a reason."

Generation is seeded (``random.Random(SEED)``): a failure names the seed and the category, and
the same stream comes back on the next run. The traffic, shuffled together:

* valid: ~1,000 messages from registered stations (vendor extras, a +07:00 offset, integer
  values, a UTF-8 BOM, a few sent twice): every reading is stored, exactly once;
* bad but deliverable: ~3,000 messages the broker hands to ingest's subscription
  (``ioc/v1/<tenant>/+/telemetry``): each is exactly one dead letter whose reason is one this
  input may honestly get, and the valid metrics of a partly bad message are stored;
* refused by the broker: what MQTT forbids in a topic (``+``, ``#``, NUL, ill-formed UTF-8,
  control characters, non-characters, empty) and bodies beyond ``max_packet_size`` (1 MB).
  paho will not even send most of them, so they go from throwaway raw-socket clients; the
  broker must close that client's connection without a PUBACK. They never reach ingest, so
  they cannot be dead letters: the test checks the refusal, that no dead letter or reading
  came of them, and that ingest's own connection never dropped.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import struct
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devices.registry import DeviceIn, ensure_tenant, upsert_device
from devices.topics import Channel, subscription
from ingest.readings import DEAD_LETTER_PAYLOAD_BYTES
from ingest.worker import IngestWorker
from ioc_core.settings import Settings

pytestmark = [pytest.mark.db, pytest.mark.broker, pytest.mark.timeout(120)]

SEED = 20_261_126
VALID = 1_000
BAD = 3_000
STATIONS = 4
SETTLE_S = 45.0

Row = tuple[int, int, datetime, float]  # (device_key, metric_id, time, value)


@dataclass(frozen=True)
class Msg:
    kind: str  # generator category, named in failures
    topic: str
    payload: bytes
    reasons: frozenset[str] = frozenset()  # dead-letter reasons it may get; empty: valid
    rows: tuple[Row, ...] = ()  # readings it must store (a partly bad message has some)


@dataclass(frozen=True)
class Metric:
    id: int
    low: float
    high: float


# --- the generator ---------------------------------------------------------------------------

UNICODE_SEGMENTS = ["trạm-01", "đo-mưa", "📡", "中文", "aq\u200b001", "\ufeffaq", "ａｑ", "ǆ"]
HOSTILE_SEGMENTS = [
    "AQ-001", "Aq-001", "a" * 65, "", "-aq", "_aq", "a b", "a.b", "a$b", "a%b", "a'b", 'a"b',
    "a\\b", "a:b", "a,b", "a;b", "a*b", "a?b", "*",
]  # fmt: skip
BAD_UTF8 = [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\x80", b"\xf4\x90\x80\x80",
            b"\xf8\x88\x80\x80\x80", b"\xfe\xfe"]  # fmt: skip
NOT_NUMBERS: list[object] = [True, False, None, "12.5", "NaN", "", [1], {"value": 1}, [], {}]


@dataclass
class Traffic:
    """Seeded messages; every one knows what ingest must make of it."""

    rng: random.Random
    tenant: str
    keys: dict[str, int]
    metrics: dict[str, Metric]
    base: datetime
    _tick: int = 0
    _seq: int = 0

    # Small pieces -----------------------------------------------------------------------
    def topic(self, device: str) -> str:
        return f"ioc/v1/{self.tenant}/{device}/telemetry"

    def station(self) -> str:
        return self.rng.choice(sorted(self.keys))

    def ts(self) -> datetime:
        """A fresh reading time, unique over the whole stream (so unique per device)."""
        self._tick += 1
        return self.base + timedelta(milliseconds=self._tick)

    def seq(self) -> int:
        self._seq += 1
        return self._seq

    def good_value(self, name: str) -> float:
        m = self.metrics[name]
        return round(self.rng.uniform(m.low, m.high), 3)

    def envelope(self, ts: str, metrics_json: str, *, seq: str | None = None) -> bytes:
        seq_json = str(self.seq()) if seq is None else seq
        return f'{{"v": 1, "ts": "{ts}", "seq": {seq_json}, "metrics": {metrics_json}}}'.encode()

    def partly(
        self, kind: str, bad_name: str, bad_json: str, reasons: set[str], *, keep_good: bool = True
    ) -> Msg:
        """One bad metric, and (usually) one good one beside it that must still be stored."""
        device, ts = self.station(), self.ts()
        parts = [f"{json.dumps(bad_name)}: {bad_json}"]
        rows: tuple[Row, ...] = ()
        if keep_good:
            name = self.rng.choice([n for n in self.metrics if n != bad_name])
            value = self.good_value(name)
            parts.insert(self.rng.randint(0, 1), f'"{name}": {value!r}')
            rows = ((self.keys[device], self.metrics[name].id, ts, value),)
        payload = self.envelope(ts.isoformat(), "{" + ", ".join(parts) + "}")
        return Msg(kind, self.topic(device), payload, frozenset(reasons), rows)

    # Valid traffic ------------------------------------------------------------------------
    def valid(self) -> Msg:
        device, ts = self.station(), self.ts()
        names = self.rng.sample(sorted(self.metrics), self.rng.randint(1, 4))
        values: dict[str, float | int] = {}
        for name in names:
            value = self.good_value(name)
            values[name] = int(value) if self.rng.random() < 0.2 else value
        stamp = ts.isoformat()
        if self.rng.random() < 0.3:  # Hai Phong local time, same instant
            stamp = ts.astimezone(timezone(timedelta(hours=7))).isoformat()
        doc: dict[str, object] = {"v": 1, "ts": stamp, "seq": self.seq(), "metrics": values}
        if self.rng.random() < 0.3:  # vendor extras are tolerated, not rejected
            doc |= {"rssi": -self.rng.randint(40, 110), "fw": "2.1.0", "ghi_chú": "trạm Lê Chân"}
        payload = json.dumps(doc, ensure_ascii=self.rng.random() < 0.5).encode()
        if self.rng.random() < 0.02:
            payload = b"\xef\xbb\xbf" + payload  # the standard parser reads a UTF-8 BOM
        rows = tuple(
            (self.keys[device], self.metrics[n].id, ts, float(v)) for n, v in values.items()
        )
        return Msg("valid", self.topic(device), payload, frozenset(), rows)

    # Bad traffic, by category -------------------------------------------------------------
    def random_bytes(self) -> Msg:
        payload = self.rng.randbytes(self.rng.randint(0, 3_000))
        try:
            payload.decode("utf-8")
            reasons = {"not_json", "bad_schema"}
        except UnicodeDecodeError:
            reasons = {"not_utf8"}
        return Msg("random_bytes", self.topic(self.station()), payload, frozenset(reasons))

    def bad_utf8(self) -> Msg:
        ok = self.envelope(self.ts().isoformat(), '{"pm25": 12.5, "note": "trạm"}')
        at = self.rng.randint(0, len(ok))
        payload = ok[:at] + self.rng.choice(BAD_UTF8) + ok[at:]
        return Msg("bad_utf8", self.topic(self.station()), payload, frozenset({"not_utf8"}))

    def huge_number(self) -> Msg:
        name = self.rng.choice(sorted(self.metrics))
        pick = self.rng.randrange(6)
        if pick == 0:
            return self.partly("huge_float", name, self.rng.choice(["1e400", "-1e400", "1E+999"]),
                               {"non_finite"})  # fmt: skip
        if pick == 1:
            return self.partly("huge_finite", name, self.rng.choice(["1e308", "-1e300", "1e20"]),
                               {"out_of_range"})  # fmt: skip
        if pick == 2:  # beyond float range, within Python's int-parsing limit: infinite
            digits = "9" * self.rng.randint(310, 4_000)
            return self.partly("huge_int", name, self.rng.choice(["", "-"]) + digits,
                               {"non_finite"})  # fmt: skip
        if pick == 3:  # beyond Python's 4,300-digit limit: the document does not parse
            digits = "9" * self.rng.randint(4_400, 9_000)
            return self.partly("huge_int_unparsable", name, digits, {"not_json"}, keep_good=False)
        if pick == 4:
            device = self.station()
            seq = self.rng.choice([str(2**64), str(2**63), "1" + "0" * 40, "1e30"])
            payload = self.envelope(self.ts().isoformat(), '{"pm25": 1}', seq=seq)
            return Msg("huge_seq", self.topic(device), payload, frozenset({"bad_schema"}))
        return self.partly("huge_negative", name, "-" + "9" * self.rng.randint(20, 300),
                           {"out_of_range"})  # fmt: skip

    def nan(self) -> Msg:
        name = self.rng.choice(sorted(self.metrics))
        token = self.rng.choice(["NaN", "Infinity", "-Infinity"])
        if self.rng.random() < 0.2:
            return self.partly("nan_string", name, json.dumps(token), {"non_numeric"})
        return self.partly("nan", name, token, {"non_finite"})

    def garbage(self, depth: int = 0) -> object:
        """Random JSON that is never a number (so never a valid reading)."""
        pick = self.rng.randrange(7 if depth < 5 else 4)
        if pick == 0:
            return None
        if pick == 1:
            return self.rng.choice([True, False])
        if pick == 2:
            return "".join(self.rng.choice("aZ09 \"\\/\u00e9\u4e2d\U0001f600\n\t")
                           for _ in range(self.rng.randint(0, 30)))  # fmt: skip
        if pick == 3:
            return self.rng.choice(NOT_NUMBERS)
        if pick in (4, 5):
            return [self.garbage(depth + 1) for _ in range(self.rng.randint(0, 4))]
        keys = [*self.metrics, "v", "ts", "seq", "metrics", "", "☃", "PM25"]
        return {
            self.rng.choice(keys): self.garbage(depth + 1) for _ in range(self.rng.randint(0, 4))
        }

    def nested(self) -> Msg:
        device = self.station()
        pick = self.rng.randrange(4)
        if pick == 0:  # deeper than any parser's recursion limit, within 16 KiB
            opener, closer = self.rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
            depth = self.rng.randint(1_100, 16_000 // (len(opener) + 1))
            payload = opener * depth + b"1" + closer * depth
            return Msg("deep_document", self.topic(device), payload, frozenset({"not_json"}))
        if pick == 1:  # a deep value inside a valid envelope; only this metric in it
            depth = self.rng.randint(1_100, 5_000)
            bad = "[" * depth + "1" + "]" * depth
            return self.partly("deep_metric", "pm25", bad, {"not_json", "non_numeric"},
                               keep_good=False)  # fmt: skip
        if pick == 2:  # garbage document
            doc = self.garbage()
            while isinstance(doc, dict) and doc.get("v") == 1:
                doc = self.garbage()
            payload = json.dumps(doc).encode()
            return Msg("garbage_document", self.topic(device), payload, frozenset({"bad_schema"}))
        metrics = self.garbage(depth=1)
        payload = self.envelope(self.ts().isoformat(), json.dumps(metrics))
        return Msg("garbage_metrics", self.topic(device), payload,
                   frozenset({"bad_schema", "non_numeric", "unknown_metric"}))  # fmt: skip

    def bad_envelope(self) -> Msg:
        now = datetime.now(UTC)
        ts = self.ts().isoformat()

        def doc(v: str = "1", t: str | None = f'"{ts}"', s: str = str(self.seq()),
                m: str = '{"pm25": 10}') -> str:  # fmt: skip
            fields = {"v": v, "ts": t, "seq": s, "metrics": m}
            return "{" + ", ".join(f'"{k}": {x}' for k, x in fields.items() if x) + "}"

        cases: list[tuple[str, str, str]] = [
            ("bad_schema", doc(v="2"), "v2"),
            ("bad_schema", doc(v='"1"'), "v_str"),
            ("bad_schema", doc(v="true"), "v_bool"),
            ("bad_schema", doc(v=""), "no_v"),
            ("bad_schema", '{"v": 1, ' + doc(v="2")[1:], "dup_key"),
            ("bad_schema", doc(t=None), "no_ts"),
            ("bad_schema", doc(t="1764000000"), "ts_number"),
            ("bad_schema", doc(s="-1"), "seq_negative"),
            ("bad_schema", doc(s='"7"'), "seq_string"),
            ("bad_schema", doc(s="7.5"), "seq_float"),
            ("bad_schema", doc(s="true"), "seq_bool"),
            ("bad_schema", doc(m="{}"), "metrics_empty"),
            ("bad_schema", doc(m='[["pm25", 1]]'), "metrics_list"),
            ("bad_schema", doc(m="null"), "metrics_null"),
            ("bad_timestamp", doc(t=f'"{ts[:19]}"'), "ts_naive"),
            ("bad_timestamp", doc(t='"yesterday"'), "ts_words"),
            ("bad_timestamp", doc(t=f'"{ts[:19]}+25:00"'), "ts_offset"),
            ("bad_timestamp", doc(t='"２０２６-１１-２６T10:00:00Z"'), "ts_fullwidth"),
            ("ts_in_future", doc(t=f'"{(now + timedelta(days=1)).isoformat()}"'), "ts_future"),
            ("ts_too_old", doc(t=f'"{(now - timedelta(days=30)).isoformat()}"'), "ts_old"),
        ]
        reason, text, label = self.rng.choice(cases)
        topic = self.topic(self.station())
        return Msg(f"envelope_{label}", topic, text.encode(), frozenset({reason}))

    def bad_metric(self) -> Msg:
        pick = self.rng.randrange(4)
        if pick == 0:
            bad = self.rng.choice(NOT_NUMBERS)
            return self.partly("not_a_number", self.rng.choice(sorted(self.metrics)),
                               json.dumps(bad), {"non_numeric"})  # fmt: skip
        if pick == 1:
            name = self.rng.choice(sorted(self.metrics))
            value = self.rng.choice([-1, -0.001, self.metrics[name].high * 10])
            return self.partly("out_of_range", name, repr(value), {"out_of_range"})
        if pick == 2:
            name = self.rng.choice(["PM25", "pm2.5", "water_level", "ụ", "x" * 300, "", " pm25"])
            return self.partly("unknown_metric", name, "1.0", {"unknown_metric"})
        # Names no text column can hold as they are: NUL, and a lone surrogate (valid JSON
        # escapes, so the standard parser accepts them). The detail that names them must
        # still be storable.
        name = self.rng.choice(["\u0000", "pm\u000025", "\ud800", "\udfff-x"])
        bad_name = json.dumps(name)  # "\u0000" / "\ud800" escapes, pure ASCII on the wire
        device, ts = self.station(), self.ts()
        payload = self.envelope(ts.isoformat(), "{" + bad_name + ": 1.0}")
        return Msg("hostile_metric_name", self.topic(device), payload,
                   frozenset({"unknown_metric"}))  # fmt: skip

    def bad_topic(self) -> Msg:
        segment = self.rng.choice(UNICODE_SEGMENTS + HOSTILE_SEGMENTS)
        payload = self.envelope(self.ts().isoformat(), '{"pm25": 12.5}')
        return Msg("bad_topic", self.topic(segment), payload, frozenset({"bad_topic"}))

    def unknown_device(self) -> Msg:
        device = f"ghost-{self.rng.randrange(200):03d}"
        payload = self.envelope(self.ts().isoformat(), '{"pm25": 12.5}')
        return Msg("unknown_device", self.topic(device), payload, frozenset({"unknown_device"}))

    def too_large(self) -> Msg:
        """Over ingest's 16 KiB limit, under the broker's 64 KiB: only ingest can refuse it."""
        head = b'{"v": 1, "n": %d, "pad": "' % self.seq()
        size = self.rng.randint(16_385, 60_000)
        payload = head + b"x" * (size - len(head) - 2) + b'"}'
        return Msg("too_large", self.topic(self.station()), payload, frozenset({"too_large"}))

    def odd_body(self) -> Msg:
        payload = self.rng.choice([b"", b" ", b"\n\t", b"null", b"{}", b"[]", b'"x"', b"0"])
        reasons = {"not_json"} if not payload.strip() else {"bad_schema"}
        return Msg("odd_body", self.topic(self.station()), payload, frozenset(reasons))

    def bad(self) -> Msg:
        makers: list[tuple[Callable[[], Msg], int]] = [
            (self.random_bytes, 16), (self.bad_utf8, 10), (self.huge_number, 12), (self.nan, 8),
            (self.nested, 12), (self.bad_envelope, 14), (self.bad_metric, 14),
            (self.bad_topic, 10), (self.unknown_device, 5), (self.too_large, 1),
            (self.odd_body, 3),
        ]  # fmt: skip
        (maker,) = self.rng.choices([m for m, _ in makers], weights=[w for _, w in makers])
        return maker()

    def stream(self) -> list[Msg]:
        messages = [self.valid() for _ in range(VALID)] + [self.bad() for _ in range(BAD)]
        resend = [m for m in messages[: VALID // 50]]  # a few valid ones arrive twice
        messages += resend
        self.rng.shuffle(messages)
        return messages


# --- what the broker must refuse ---------------------------------------------------------------


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, byte = divmod(n, 128)
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _mqtt_string(data: bytes) -> bytes:
    return struct.pack("!H", len(data)) + data


def raw_publish(settings: Settings, topic: bytes, payload: bytes) -> str:
    """One QoS 1 PUBLISH from a throwaway MQTT 3.1.1 client, bytes exactly as given (paho
    refuses to send wildcards or a topic it cannot encode). Returns "puback" or "closed"."""
    with socket.create_connection((settings.mqtt_host, settings.mqtt_port), timeout=5) as sock:
        body = _mqtt_string(b"MQTT") + bytes([4, 0x02]) + struct.pack("!H", 30)
        body += _mqtt_string(f"fuzz-raw-{uuid.uuid4().hex[:8]}".encode())
        sock.sendall(b"\x10" + _remaining_length(len(body)) + body)
        assert sock.recv(4) == b"\x20\x02\x00\x00", "the broker did not accept CONNECT"
        body = _mqtt_string(topic) + struct.pack("!H", 1) + payload
        try:
            sock.sendall(b"\x32" + _remaining_length(len(body)) + body)
            answer = sock.recv(4)
        except (ConnectionResetError, BrokenPipeError):
            return "closed"
        except TimeoutError:
            return "no answer"
    if answer == b"\x40\x02\x00\x01":
        return "puback"
    return "closed" if not answer else f"unexpected {answer!r}"


def refused_by_broker(tenant: str) -> list[tuple[str, bytes, bytes]]:
    prefix = f"ioc/v1/{tenant}/".encode()
    body = b'{"v": 1, "ts": "2026-11-26T10:00:00Z", "seq": 1, "metrics": {"pm25": 1}}'
    return [
        ("wildcard +", prefix + b"+/telemetry", body),
        ("wildcard #", prefix + b"#", body),
        ("wildcard inside", prefix + b"aq-00+/telemetry", body),
        ("NUL", prefix + b"aq\x00001/telemetry", body),
        ("ill-formed UTF-8", prefix + b"aq\xff/telemetry", body),
        ("UTF-16 surrogate", prefix + b"aq\xed\xa0\x80/telemetry", body),
        ("control character", prefix + b"aq\x01/telemetry", body),
        ("C1 control", prefix + "aq\u0085".encode() + b"/telemetry", body),
        ("non-character", prefix + "aq\ufffe".encode() + b"/telemetry", body),
        ("empty topic", b"", body),
        ("1 MB body", prefix + b"aq-000/telemetry", b"{" + b" " * 1_000_000 + b"}"),
        ("1 MB random body", prefix + b"aq-000/telemetry", random.Random(SEED).randbytes(2**20)),
        ("just over max_packet_size", prefix + b"aq-000/telemetry", b"x" * 65_600),
    ]  # fmt: skip


# --- the worker, with its death reported rather than lost in a thread ---------------------------


@dataclass
class Running:
    worker: IngestWorker
    stop: threading.Event
    thread: threading.Thread
    errors: list[BaseException] = field(default_factory=list)

    def why_dead(self) -> str:
        return repr(self.errors[0]) if self.errors else "exited without an exception"


@pytest.fixture
def running(db_settings: Settings, tenant: str) -> Iterator[Running]:
    worker = IngestWorker(db_settings, topic_filter=subscription(Channel.TELEMETRY, tenant=tenant),
                          client_id=f"ingest-fuzz-{uuid.uuid4().hex[:8]}")  # fmt: skip
    stop = threading.Event()
    run = Running(worker, stop, threading.Thread(target=lambda: None))

    def target() -> None:
        try:
            worker.run(stop)
        except BaseException as exc:  # the test reports it; a thread would swallow it
            run.errors.append(exc)
            raise

    run.thread = threading.Thread(target=target, daemon=True, name="ingest-fuzz")
    run.thread.start()
    assert worker.subscribed.wait(15), f"ingest did not subscribe: {run.why_dead()}"
    yield run
    stop.set()
    run.thread.join(timeout=30)


def register(conn: psycopg.Connection, tenant: str) -> tuple[dict[str, int], dict[str, Metric]]:
    ensure_tenant(conn, tenant, "Fuzz tenant")
    for n in range(STATIONS):
        upsert_device(conn, DeviceIn(id=f"aq-{n:03d}", kind="air_quality_station",
                                     tenant_id=tenant, commune_code="11407"))  # fmt: skip
    keys: dict[str, int] = dict(
        conn.execute("SELECT id, key FROM devices WHERE tenant_id = %s", (tenant,))
    )
    metrics = {
        name: Metric(mid, low, high)
        for name, mid, low, high in conn.execute(
            "SELECT name, id, min_value, max_value FROM metrics "
            "WHERE kind = 'air_quality_station' AND name IN ('pm25', 'pm10', 'o3', 'no2', 'co')"
        )
    }
    return keys, metrics


def _examples(keys: Counter[tuple[str, bytes]], kinds: dict[tuple[str, bytes], str]) -> str:
    by_kind = Counter(kinds.get(k, "not published") for k in keys.elements())
    sample = [(t, p[:60]) for t, p in list(keys)[:3]]
    return f"{sum(keys.values())} by category {dict(by_kind)}, e.g. {sample}"


# --- the test ------------------------------------------------------------------------------------


def test_hostile_traffic_is_dead_lettered_beside_valid_traffic_that_is_all_stored(
    conn, db_settings, tenant, running, caplog
):
    caplog.set_level(logging.WARNING, logger="ingest")
    keys, metrics = register(conn, tenant)
    rng = random.Random(SEED)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    messages = Traffic(rng, tenant, keys, metrics, base).stream()
    refused = refused_by_broker(tenant)
    refuse_at = {len(messages) * (n + 1) // (len(refused) + 1): n for n in range(len(refused))}

    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"fuzz-{uuid.uuid4().hex[:8]}")
    publisher.max_inflight_messages_set(1_000)
    disconnects: list[object] = []
    publisher.on_disconnect = lambda *args: disconnects.append(args[3])
    publisher.connect(db_settings.mqtt_host, db_settings.mqtt_port)
    publisher.loop_start()
    answers: dict[str, str] = {}
    try:
        infos = []
        for i, msg in enumerate(messages):
            if i in refuse_at:
                label, topic, payload = refused[refuse_at[i]]
                answers[label] = raw_publish(db_settings, topic, payload)
            infos.append(publisher.publish(msg.topic, msg.payload, qos=1))
        # A control from the same raw client: a topic the broker accepts gets its PUBACK, so
        # "closed" above is the broker's refusal, not a broken client.
        control = raw_publish(db_settings, f"ioc/v1/{tenant}/aq-000/telemetry".encode(), b"{")
        messages.append(Msg("raw_control", f"ioc/v1/{tenant}/aq-000/telemetry", b"{",
                            frozenset({"not_json"})))  # fmt: skip
        for info in infos:
            info.wait_for_publish(timeout=30)
    finally:
        publisher.disconnect()
        publisher.loop_stop()
    assert not disconnects[:-1], f"the broker dropped the fuzz publisher: {disconnects}"
    assert control == "puback"
    assert all(a == "closed" for a in answers.values()), f"the broker accepted: {answers}"

    bad = [m for m in messages if m.reasons]
    expected_rows = Counter(row for m in messages for row in m.rows)
    expected_rows = Counter(set(expected_rows))  # a message sent twice is stored once
    expected_dead = Counter((m.topic, m.payload[:DEAD_LETTER_PAYLOAD_BYTES]) for m in bad)

    deadline = time.monotonic() + SETTLE_S
    counts = (-1, -1)
    while time.monotonic() < deadline and running.thread.is_alive():
        now = conn.execute(
            "SELECT (SELECT count(*) FROM telemetry), (SELECT count(*) FROM dead_letters)"
        ).fetchone()
        if now == counts and now[0] >= len(expected_rows) and now[1] >= len(bad):
            break
        counts = now
        time.sleep(1.0)  # two equal reads a second apart: quiescent

    assert running.thread.is_alive(), f"the ingest worker died: {running.why_dead()}"
    assert "disconnected from the broker" not in caplog.text, "ingest lost its connection"

    stored = Counter(conn.execute("SELECT device_key, metric_id, time, value FROM telemetry"))
    missing, extra = expected_rows - stored, stored - expected_rows
    assert not missing and not extra, (
        f"SEED={SEED}: {len(missing)} expected readings missing "
        f"(e.g. {list(missing)[:3]}), {len(extra)} unexpected or doubled (e.g. {list(extra)[:3]})"
    )

    rows = conn.execute(
        "SELECT topic, payload, payload_truncated, reason, detail, tenant_id, device_id "
        "FROM dead_letters"
    ).fetchall()
    got_dead = Counter((topic, bytes(payload)) for topic, payload, *_ in rows)
    kinds = {(m.topic, m.payload[:DEAD_LETTER_PAYLOAD_BYTES]): m.kind for m in bad}
    allowed = {(m.topic, m.payload[:DEAD_LETTER_PAYLOAD_BYTES]): m.reasons for m in bad}
    long = {(m.topic, m.payload[:DEAD_LETTER_PAYLOAD_BYTES]): len(m.payload) > 4_096 for m in bad}
    lost, surplus = expected_dead - got_dead, got_dead - expected_dead
    assert not lost and not surplus, (
        f"SEED={SEED}: bad messages without a dead letter: {_examples(lost, kinds)}; "
        f"dead letters for no bad message (or twice): {_examples(surplus, kinds)}"
    )

    wrong: Counter[tuple[str, str]] = Counter()
    for topic, payload, _, reason, *_ in rows:
        key = (topic, bytes(payload))
        if reason not in allowed[key]:
            wrong[(kinds[key], reason)] += 1
    assert not wrong, (
        f"SEED={SEED}: dead letters with a reason this input should not get, "
        f"(category, reason) -> count: {dict(wrong)}"
    )
    for topic, payload, truncated, reason, detail, tenant_id, device_id in rows:
        key = (topic, bytes(payload))
        assert detail, f"a {reason} dead letter without a detail"
        assert truncated == long[key], f"{kinds[key]}: payload_truncated is {truncated}"
        if reason != "bad_topic":
            assert (tenant_id, device_id) == (tenant, topic.split("/")[3]), (
                f"a {reason} dead letter does not say who sent it"
            )
    assert len(bad) > BAD  # thousands, as the issue asks


# --- the inputs the fuzz test found fatal or mislabelled, one by one --------------------------


@pytest.fixture
def one_by_one(conn, db_settings, tenant, running) -> Iterator[Callable[[bytes], tuple]]:
    """Publish one payload as station aq-000, then a valid reading; wait for both outcomes."""
    register(conn, tenant)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"fuzz-{uuid.uuid4().hex[:8]}")
    client.connect(db_settings.mqtt_host, db_settings.mqtt_port)
    client.loop_start()
    topic = f"ioc/v1/{tenant}/aq-000/telemetry"

    def send(payload: bytes) -> tuple:
        after = json.dumps({"v": 1, "ts": datetime.now(UTC).isoformat(), "seq": 2,
                            "metrics": {"pm25": 1.5}}).encode()  # fmt: skip
        for body in (payload, after):
            client.publish(topic, body, qos=1).wait_for_publish(10)
        deadline = time.monotonic() + 10
        while running.thread.is_alive() and time.monotonic() < deadline:
            stored, dead = conn.execute(
                "SELECT (SELECT count(*) FROM telemetry), (SELECT count(*) FROM dead_letters)"
            ).fetchone()
            if stored and dead:
                break
            time.sleep(0.1)
        assert running.thread.is_alive(), f"the ingest worker died: {running.why_dead()}"
        return conn.execute("SELECT reason, detail FROM dead_letters").fetchone()

    yield send
    client.disconnect()
    client.loop_stop()


@pytest.mark.parametrize("name", ["\u0000", "pm\u000025", "\ud800", "\udfff-x"])
def test_a_metric_name_no_text_column_can_hold_is_dead_lettered_not_fatal(one_by_one, name):
    """JSON escapes make these pure ASCII on the wire; the standard parser (the fallback for
    what orjson refuses) decodes them to NUL or a lone surrogate, and the dead letter's detail
    names the metric: it must still be storable, and the loop must go on."""
    key = json.dumps(name)  # "\u0000" / "\ud800": the escape, not the character
    payload = f'{{"v": 1, "ts": "{datetime.now(UTC).isoformat()}", "seq": 1, '
    payload += f'"metrics": {{{key}: 1.0}}}}'
    reason, detail = one_by_one(payload.encode())
    assert reason == "unknown_metric" and detail


@pytest.mark.parametrize("where", ["document", "metric"])
def test_json_nested_beyond_the_parser_limit_is_not_json(one_by_one, where):
    """orjson stops at 1,024 levels; the standard parser, tried next, raises RecursionError
    (not a ValueError), which ``decode`` lets out: the worker's safety net then files it as
    ``internal_error`` with a traceback in the log, per message, for an attacker's 2 KB body."""
    deep = "[" * 2_000 + "1" + "]" * 2_000
    if where == "document":
        payload = deep
    else:
        payload = f'{{"v": 1, "ts": "{datetime.now(UTC).isoformat()}", "seq": 1, '
        payload += f'"metrics": {{"pm25": {deep}}}}}'
    reason, _ = one_by_one(payload.encode())
    assert reason in {"not_json", "non_numeric"}
