"""The stream of stored readings: what ingest committed, for the consumers that judge it.

Ingest already parses, validates and stores every reading; a stream processor (the alert
engine) that subscribed to raw telemetry would pay the broker's fan-out and the whole decode
again for each of 10,000 messages a second. Instead ingest publishes, after each commit, one
message per batch on ``ioc/v1/_readings/{source}``: the batch's rows as they went into COPY,
packed as fixed-width little-endian records. Unpacking is one ``numpy.frombuffer``.

The leading underscore cannot begin a tenant segment (``devices.topics.SEGMENT_RE``), so no
device account can publish here, and the topic has four levels where device topics have five:
no device filter matches it.

Record layout (``RECORD``, 24 bytes): ``t`` int64 microseconds since the Unix epoch (UTC),
``k`` int32 device key, ``m`` int32 metric id (both as the registry numbers them), ``v``
float64 value. A message is ``MAGIC`` (5 bytes: ``IOCR`` and the layout version) followed by
the records.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from devices.errors import PayloadError
from devices.topics import PREFIX, SEGMENT_RE, VERSION

__all__ = [
    "MAGIC",
    "MAX_ROWS",
    "RECORD",
    "ReadingBatch",
    "pack_messages",
    "pack_records",
    "pack_rows",
    "readings_filter",
    "readings_topic",
    "row_times",
    "to_records",
    "unpack_rows",
]

MAGIC = b"IOCR\x01"
# Records per message: 24 bytes each keeps a message under the broker's default 64 KiB packet
# limit (``mqtt_max_packet_size``).
MAX_ROWS = 2_500
RECORD = np.dtype([("t", "<i8"), ("k", "<i4"), ("m", "<i4"), ("v", "<f8")])
_ROOT = f"{PREFIX}/{VERSION}/_readings"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# What a batch unpacks to: the records, read-only, in the order ingest wrote them.
ReadingBatch = np.ndarray


def readings_topic(source: str) -> str:
    """The topic one ingest worker (``source``: its client id) publishes its batches on."""
    if SEGMENT_RE.fullmatch(source) is None:
        raise ValueError(f"readings source {source!r} is not a valid topic segment")
    return f"{_ROOT}/{source}"


def readings_filter() -> str:
    return f"{_ROOT}/+"


def to_records(rows: Sequence[tuple[datetime, int, int, float]]) -> np.ndarray:
    """Rows as ingest's COPY takes them (time, device key, metric id, value), as ``RECORD``s:
    the one conversion a batch needs, for the stream and for ingest's binary COPY alike.

    Native messages give several rows one timestamp, so each distinct datetime is converted
    once (the conversion is most of the cost of packing).
    """
    out = np.empty(len(rows), dtype=RECORD)
    micros: dict[datetime, int] = {}
    stamps = []
    for ts, _, _, _ in rows:
        us = micros.get(ts)
        if us is None:
            delta = ts - _EPOCH
            us = micros[ts] = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        stamps.append(us)
    out["t"] = stamps
    out["k"] = [r[1] for r in rows]
    out["m"] = [r[2] for r in rows]
    out["v"] = [r[3] for r in rows]
    return out


def pack_rows(rows: Sequence[tuple[datetime, int, int, float]]) -> bytes:
    """One message of rows (at most ``MAX_ROWS``)."""
    return MAGIC + to_records(rows).tobytes()


def pack_records(records: np.ndarray) -> list[bytes]:
    """``RECORD``s as the messages that carry them, ``MAX_ROWS`` at most each."""
    return [MAGIC + records[i : i + MAX_ROWS].tobytes() for i in range(0, len(records), MAX_ROWS)]


def pack_messages(rows: Sequence[tuple[datetime, int, int, float]]) -> list[bytes]:
    """A batch's rows as the messages that carry them, ``MAX_ROWS`` at most each."""
    return pack_records(to_records(rows))


def unpack_rows(payload: bytes) -> ReadingBatch:
    """The records of one message; :class:`PayloadError` says what is wrong with a bad one."""
    if not payload.startswith(MAGIC):
        raise PayloadError(
            "bad_schema", f"readings batch must start with {MAGIC!r}, got {payload[:5]!r}"
        )
    body = len(payload) - len(MAGIC)
    if body % RECORD.itemsize:
        raise PayloadError(
            "bad_schema",
            f"readings batch body is {body} bytes, not a multiple of {RECORD.itemsize}",
        )
    return np.frombuffer(payload, dtype=RECORD, offset=len(MAGIC))


def row_times(batch: ReadingBatch) -> list[datetime]:
    """Each record's time as an aware datetime, exactly (no float seconds on the way); a
    message's rows share one time, so runs of equal stamps are converted once."""
    out: list[datetime] = []
    last_us, last = None, _EPOCH
    for us in batch["t"].tolist():
        if us != last_us:
            last_us, last = us, _EPOCH + timedelta(microseconds=us)
        out.append(last)
    return out
