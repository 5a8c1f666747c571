"""SenML JSON (RFC 8428) on ``ioc/v1/{tenant}/{device}/senml``.

Devices and gateways that already speak SenML (LwM2M clients, RIOT, many LoRaWAN decoders)
publish their pack unchanged; each record becomes a reading of the topic's device.

Resolution follows RFC 8428 section 4.6: the base fields ``bn``, ``bt``, ``bu``, ``bv`` and
``bver`` apply to the records that follow until another record changes them; the name is
``bn + n``, the value ``bv + v``, the unit ``u`` or else ``bu``, and the time ``bt + t``, where a
sum below 2**28 is seconds relative to now (when ingest received the message; negative is the
past) and anything larger is absolute Unix seconds. Only ``v`` is stored: ``vs``, ``vb`` and
``vd`` are not numbers and are refused per record (``non_numeric``); sums (``s``, ``bs``) are not
stored either and are ignored beside a value.

Names (after resolution; metric names never contain ``:`` or ``/``):

- ``<metric>``: a metric of the topic's device, e.g. ``pm25``;
- ``<device_id>:<metric>`` or ``<device_id>/<metric>``: the device named must be the topic's,
  e.g. ``bn`` = ``aq-001:`` and ``n`` = ``pm25``;
- ``urn:dev:<type>:<device_id>:<metric>`` (RFC 9039 device URN, e.g. the RFC's own
  ``urn:dev:ow:10e2073a01080063:voltage``): the same, written as a URN.

A record naming another device is dropped (``device_mismatch``): the topic, which the broker
authorised, says whose readings these are; a gateway publishes each device's pack on that
device's topic. Units are checked against the profile through :data:`UNIT_MAP`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from devices.topics import Topic
from ingest.formats._dropped import Dropped, fold_dropped
from ingest.formats.native import parse_json
from ingest.readings import Context, Decoded, Limits, Sample, accept_samples, registered_device
from ingest.registry_cache import CachedDevice, RegistryCache

__all__ = ["RELATIVE_TIME_LIMIT", "SENML_VERSION", "UNIT_MAP", "UnitConversion", "decode_senml"]

# RFC 8428 section 4.5.3: times below 2**28 s (about 8.5 years) are relative to "now".
RELATIVE_TIME_LIMIT = 2**28
# The version RFC 8428 defines; a pack announcing a later one may mean things we do not read.
SENML_VERSION = 10
# RFC 8428 section 4.5.1: what a resolved name may contain, and how it must start.
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9:./_-]*")
_URN_DEV = "urn:dev:"
_BASE_FIELDS = frozenset({"bn", "bt", "bu", "bv", "bs", "bver"})
_VALUE_FIELDS = ("v", "vs", "vb", "vd")
_NOT_NUMBERS = {"vs": "a string", "vb": "a boolean", "vd": "binary data"}


class UnitConversion(NamedTuple):
    """``profile value = senml value * multiply / divide + add``."""

    senml: str
    ucum: str
    multiply: float = 1.0
    divide: float = 1.0
    add: float = 0.0


# SenML unit -> a profile's UCUM code. A SenML unit spelled exactly like the profile's code
# needs no row (Cel, %, V, A, W, m, m/s, m3, lx, Hz, s, dB, deg; and the RFC 8798 secondary
# units ug/m3, hPa, mm, cm, mm/h, km/h, kW that devices send although SenML's primary registry
# prefers unscaled SI). Anything else is a unit_mismatch: a reading in an unexpected unit is
# worse than none, so nothing is guessed.
UNIT_MAP: tuple[UnitConversion, ...] = (
    # The same unit, spelled differently.
    UnitConversion("%RH", "%"),  # relative humidity in percent
    UnitConversion("%EL", "%"),  # remaining battery energy in percent
    UnitConversion("/", "1"),  # ratio, e.g. a switch's state
    UnitConversion("count", "{count}"),
    UnitConversion("count", "{vehicle}"),
    UnitConversion("l/s", "L/s"),
    UnitConversion("mg/l", "mg/L"),
    UnitConversion("kWh", "kW.h"),  # UCUM writes a product with a dot
    # SenML's primary (unscaled SI) units into the scaled units the profiles use.
    UnitConversion("Pa", "hPa", divide=100),
    UnitConversion("Pa", "kPa", divide=1_000),
    UnitConversion("Pa", "bar", divide=100_000),
    UnitConversion("kg/m3", "ug/m3", multiply=1e9),
    UnitConversion("kg/m3", "mg/m3", multiply=1e6),
    UnitConversion("kg/m3", "mg/L", multiply=1_000),
    UnitConversion("m", "cm", multiply=100),
    UnitConversion("m", "mm", multiply=1_000),
    UnitConversion("m/s", "km/h", multiply=3.6),
    UnitConversion("m/s", "mm/h", multiply=3.6e6),  # rainfall intensity
    UnitConversion("m3/s", "m3/h", multiply=3_600),
    UnitConversion("m3/s", "L/s", multiply=1_000),
    UnitConversion("/", "%", multiply=100),
    UnitConversion("W", "kW", divide=1_000),
    UnitConversion("J", "kW.h", divide=3.6e6),
    UnitConversion("K", "Cel", add=-273.15),
    # RFC 8798 secondary units into another scale.
    UnitConversion("Wh", "kW.h", divide=1_000),
    UnitConversion("kW", "W", multiply=1_000),
    UnitConversion("mV", "V", divide=1_000),
    UnitConversion("mA", "A", divide=1_000),
)
_CONVERSIONS = {(c.senml, c.ucum): c for c in UNIT_MAP}


class _BadPackError(ValueError):
    """The pack as a whole breaks RFC 8428; the message names the record."""


def decode_senml(topic: Topic, ctx: Context, *, cache: RegistryCache, limits: Limits) -> Decoded:
    try:
        doc = parse_json(ctx.payload)
    except (ValueError, RecursionError) as exc:  # nesting deeper than any pack: not ours
        return ctx.reject("not_json", f"payload is not JSON we can read: {exc}")
    if not isinstance(doc, list):
        return ctx.reject(
            "bad_schema", f"a SenML pack is a JSON array of records, got {type(doc).__name__}"
        )
    if not doc:
        return ctx.reject("bad_schema", "the SenML pack is empty")
    try:
        records = list(_resolve(doc))
    except _BadPackError as exc:
        return ctx.reject("bad_schema", str(exc))
    if not records:
        return ctx.reject("bad_schema", "the SenML pack has no record with a value")
    device = registered_device(ctx, cache, tenant_id=topic.tenant)
    if isinstance(device, Decoded):
        return device
    early: list[Dropped] = []
    samples: list[Sample] = []
    for record in records:
        sample = _sample(record, ctx, device, cache)
        if isinstance(sample, Sample):
            samples.append(sample)
        else:
            early.append(sample)
    accepted = accept_samples(ctx, device, samples, cache=cache, limits=limits)
    return fold_dropped(ctx, early, accepted, len(samples))


class _Record(NamedTuple):
    """A record after RFC 8428 resolution: base fields folded in, nothing checked yet."""

    position: int  # in the pack, for details
    fields: dict[str, object]
    name: object  # bn + n, or n itself when it is not a string
    unit: object  # u, else bu, else None
    base_value: float
    time: float | None  # bt + t in seconds; None when t is not a number


def _resolve(doc: list[object]) -> Iterator[_Record]:
    bn, bu = "", None
    bt = bv = 0.0
    for index, record in enumerate(doc):
        if not isinstance(record, dict):
            raise _BadPackError(f"record {index} is not an object")
        for key in record:
            if key.endswith("_"):  # RFC 8428 section 4.4: must-understand extensions
                raise _BadPackError(f"record {index}: field {key!r} must be understood and is not")
        for key in ("bn", "bu"):
            if key in record and not isinstance(record[key], str):
                raise _BadPackError(f"record {index}: {key} must be a string, got {record[key]!r}")
        for key in ("bt", "bv", "bs"):
            if key not in record:
                continue
            number = _finite(record[key])
            if number is None:
                raise _BadPackError(
                    f"record {index}: {key} must be a finite number, got {record[key]!r}"
                )
            if key == "bt":
                bt = number
            elif key == "bv":
                bv = number
        version = record.get("bver", SENML_VERSION)
        if isinstance(version, bool) or not isinstance(version, int) or version > SENML_VERSION:
            raise _BadPackError(
                f"record {index}: bver must be an integer up to {SENML_VERSION}, got {version!r}"
            )
        bn = record.get("bn", bn)
        bu = record.get("bu", bu)
        if record.keys() <= _BASE_FIELDS:
            continue  # a record that only sets base fields for the ones that follow
        name = record.get("n", "")
        offset = _finite(record.get("t", 0))
        yield _Record(
            position=index,
            fields=record,
            name=bn + name if isinstance(name, str) else name,
            unit=record.get("u", bu),
            base_value=bv,
            time=None if offset is None else bt + offset,
        )


def _finite(value: object) -> float | None:
    """``value`` as a finite float, or None for anything else (bool is not a number)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond float range
        return None
    return number if math.isfinite(number) else None


def _sample(
    record: _Record, ctx: Context, device: CachedDevice, cache: RegistryCache
) -> Sample | Dropped:
    fields = record.fields
    label = f"record {record.position}"
    if not isinstance(record.name, str):
        return "bad_name", f"{label}: n must be a string, got {record.name!r}"
    metric = _metric_name(record.name, ctx.device_id or "")
    if isinstance(metric, tuple):
        return metric[0], f"{label}: {metric[1]}"
    label = f"{label} ({metric})"
    present = [key for key in _VALUE_FIELDS if key in fields]
    if not present:
        if "s" in fields:
            return "no_value", f"{label}: has only a sum (s); ingest stores values (v)"
        return "bad_schema", f"{label}: has no value (v)"
    if len(present) > 1:
        return "bad_schema", f"{label}: has {', '.join(present)}; RFC 8428 allows one value"
    if present[0] != "v":
        return "non_numeric", f"{label}: {present[0]} is {_NOT_NUMBERS[present[0]]}, not a number"
    unit = record.unit
    if unit is not None and not isinstance(unit, str):
        return "bad_schema", f"{label}: u must be a string, got {unit!r}"
    ts = None if record.time is None else _timestamp(record.time, ctx.received_at)
    if ts is None:
        return "bad_timestamp", f"{label}: t {fields.get('t')!r} does not give a usable time"
    conversion = None
    spec = cache.metric(device.kind, metric)
    if unit is not None and spec is not None and unit != spec.unit:
        conversion = _CONVERSIONS.get((unit, spec.unit))
        if conversion is not None:
            unit = spec.unit
    return Sample(metric, _value(fields["v"], record.base_value, conversion), ts, unit)


def _value(raw: object, base: float, conversion: UnitConversion | None) -> object:
    """bv + v in the profile's unit; a value that is not a number is left for the profile
    check to refuse with its usual reason (non_numeric, non_finite)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float) or (not base and not conversion):
        return raw
    try:
        value = float(raw) + base
    except OverflowError:
        return raw
    if conversion is not None:
        value = value * conversion.multiply / conversion.divide + conversion.add
    return value


def _metric_name(name: str, device_id: str) -> str | Dropped:
    """The metric a resolved name stands for, or why it stands for none of this device's."""
    if not name:
        return "bad_name", "has no name (n, bn)"
    if _NAME_RE.fullmatch(name) is None:
        return "bad_name", f"name {name!r} has characters RFC 8428 does not allow"
    if name.startswith(_URN_DEV):
        urn_type, colon, rest = name[len(_URN_DEV) :].partition(":")
        if not colon or not urn_type:
            return "bad_name", f"name {name!r} is not a device URN (urn:dev:<type>:<id>)"
        device, metric = _split(rest)
        if device is None:  # the URN names a device and nothing more
            device, metric = rest, ""
    else:
        device, metric = _split(name)
        if device is None:
            return metric
    if device != device_id:
        return "device_mismatch", f"name {name!r} is of device {device!r}, not {device_id!r}"
    if not metric:
        return "bad_name", f"name {name!r} names the device but no metric"
    return metric


def _split(name: str) -> tuple[str | None, str]:
    """``device:metric`` or ``device/metric`` at the last separator; ``(None, name)`` if none."""
    cut = max(name.rfind(":"), name.rfind("/"))
    if cut < 0:
        return None, name
    return name[:cut], name[cut + 1 :]


def _timestamp(seconds: float, now: datetime) -> datetime | None:
    try:
        if seconds < RELATIVE_TIME_LIMIT:
            return now + timedelta(seconds=seconds)
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None
