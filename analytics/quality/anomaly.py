"""Anomaly against the device's own profile: a robust z-score of the residual between its
recent level and what that hour of its day or week usually reads.

The profile (:mod:`analytics.quality.anomaly_profile`) is learnt from ``telemetry_1h`` once,
when the factory builds the detector, then hour by hour from the readings themselves (hours
that were anomalous are not learnt). Every ``eval_s`` of event time the level (median of the
last ``level_s`` of readings) is compared with the profile at the middle of that window; the
z-score opens the alert at ``z_open`` on ``open_after`` evaluations in a row and clears below
``z_clear``. A departure that the neighbouring stations share (z of the same sign, at least
half as large, on at least two of them) is the weather or the city, not the sensor, and is
not raised; a station with fewer than two neighbours to compare with needs
``isolated_factor`` times the z-score, since alone it cannot tell a storm from a sensor.
Until a device has ``daily_min`` days of history it is not judged.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median

from psycopg import Connection
from psycopg.rows import tuple_row

from analytics.alerts import Finding, Reading
from analytics.quality.anomaly_profile import Profile
from analytics.quality.anomaly_series import ANOMALY_SERIES, Scale
from analytics.quality.catalogue import Catalogue, series_interest
from analytics.quality.directory import Locations
from analytics.quality.neighbours import nearest
from analytics.quality.wording import duration, num
from ioc_core.settings import Settings

log = logging.getLogger(__name__)
KIND = "anomaly"
MIN_RESIDUALS = 24  # hourly residuals before the spread is trusted (Profile.spread)


@dataclass(frozen=True)
class ProfileParams:
    daily_min: int = 3
    weekly_min: int = 3
    level_s: float = 3600.0
    eval_s: float = 600.0
    min_window: int = 5
    z_open: float = 5.0
    z_clear: float = 3.0
    open_after: int = 2
    clear_after: int = 2
    radius_km: float = 40.0
    isolated_factor: float = 2.0  # z needed without two neighbours to compare, x z_open
    series: Mapping[str, frozenset[str]] = field(default_factory=lambda: dict(ANOMALY_SERIES))


@dataclass(slots=True)
class _Series:
    scale: Scale
    profile: Profile
    window: deque[tuple[datetime, float]] = field(default_factory=deque)
    hour: datetime | None = None
    hour_end: datetime | None = None  # hour + 1 h: a reading before it is in the same hour
    hour_sum: float = 0.0
    hour_count: int = 0
    next_eval: datetime | None = None
    active: bool = False
    streak: int = 0
    # The kind it was made for, that kind's range, and whether that kind/metric is watched:
    # a reading of that kind needs no catalogue look-up.
    kind: str = ""
    low: float = 0.0
    high: float = 0.0
    watched: bool = False


HOUR = timedelta(hours=1)


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


class ProfileAnomalyDetector:
    def __init__(
        self,
        params: ProfileParams | None = None,
        locations: Locations | None = None,
        catalogue: Catalogue | None = None,
    ) -> None:
        self.p = params or ProfileParams()
        # What observe() judges, declared so the engine routes nothing else here.
        self.kinds, self.metrics = series_interest(self.p.series)
        self.locations = locations or Locations()
        self.catalogue = catalogue or Catalogue()
        self._series: dict[tuple[str, str], _Series] = {}
        self._level = timedelta(seconds=self.p.level_s)
        self._half_level = timedelta(seconds=self.p.level_s / 2)
        self._eval = timedelta(seconds=self.p.eval_s)
        self._z: dict[tuple[str, str], dict[str, tuple[datetime, float]]] = {}

    def _get(self, device_id: str, kind: str, metric: str) -> _Series | None:
        key = (device_id, metric)
        s = self._series.get(key)
        if s is None:
            spec = self.catalogue.spec(kind, metric)
            if spec is None:
                return None
            profile = Profile(daily_min=self.p.daily_min, weekly_min=self.p.weekly_min)
            watched = metric in self.p.series.get(kind, ())
            s = self._series[key] = _Series(Scale(spec), profile, kind=kind, low=spec.min,
                                            high=spec.max, watched=watched)  # fmt: skip
        return s

    def learn_history(self, device_id: str, kind: str, metric: str, hour: datetime,
                      mean: float) -> None:  # fmt: skip
        """One hourly mean from the rollups (raw units), oldest first."""
        s = self._get(device_id, kind, metric)
        if s is not None:
            s.profile.learn(hour, s.scale.to(mean))

    def observe(self, reading: Reading) -> Iterable[Finding]:
        s = self._series.get((reading.device_id, reading.metric))
        if s is not None and s.kind == reading.kind and s.watched:
            # The series' own kind: its range is known (the common case, no look-ups).
            if not s.low <= reading.value <= s.high:
                return ()
        else:
            metrics = self.p.series.get(reading.kind)
            if metrics is None or reading.metric not in metrics:
                return ()
            spec = self.catalogue.spec(reading.kind, reading.metric)
            if spec is None or not spec.min <= reading.value <= spec.max:
                return ()
            s = self._get(reading.device_id, reading.kind, reading.metric)
        if s is None or (s.hour is not None and reading.time < s.hour):
            return ()
        if s.window and reading.time <= s.window[-1][0]:
            return ()
        x = s.scale.to(reading.value)
        self._accumulate(s, reading.time, x)
        if len(s.profile.residuals) < MIN_RESIDUALS:
            s.window.clear()
            return ()  # still learning what is usual: nothing to judge against yet
        s.window.append((reading.time, x))
        horizon = reading.time - self._level
        while s.window and s.window[0][0] <= horizon:
            s.window.popleft()
        if s.next_eval is not None and reading.time < s.next_eval:
            return ()
        s.next_eval = reading.time + self._eval
        values = [v for _, v in s.window]
        if len(values) < self.p.min_window or max(values) == min(values):
            return ()
        middle = reading.time - self._half_level
        known = s.profile.expected(middle)
        spread = s.profile.spread(s.scale.floor)
        if known is None or spread is None:
            return ()
        level = median(values)
        expected, which = known
        z = (level - expected) / spread
        zs = self._z.setdefault((reading.kind, reading.metric), {})
        zs[reading.device_id] = (reading.time, z)
        return self._decide(reading, s, z, level - expected, spread, which, zs)

    def _accumulate(self, s: _Series, at: datetime, x: float) -> None:
        current = s.hour
        if current is not None and at.tzinfo is current.tzinfo and at < s.hour_end:  # type: ignore[operator]
            # Same clock, at or after the hour's start (observe returns earlier otherwise) and
            # before its end: _hour(at) is this hour.
            s.hour_sum += x
            s.hour_count += 1
            return
        hour = _hour(at)
        if s.hour is not None and hour > s.hour:
            if s.hour_count and not s.active:  # an anomalous hour is not what is usual
                s.profile.learn(s.hour, s.hour_sum / s.hour_count)
            s.hour_sum, s.hour_count = 0.0, 0
        if s.hour is None or hour >= s.hour:
            s.hour = hour
            s.hour_end = hour + HOUR
            s.hour_sum += x
            s.hour_count += 1

    def _shared(
        self, r: Reading, z: float, zs: dict[str, tuple[datetime, float]]
    ) -> tuple[int, int]:
        """(neighbours judged at about the same time, how many of them depart the same way)."""
        origin = self.locations.get(r.device_id)
        if origin is None:
            return 0, 0
        fresh = {}
        for device_id, (at, _) in zs.items():
            where = self.locations.get(device_id) if device_id != r.device_id else None
            if where is not None and abs((r.time - at).total_seconds()) <= self.p.level_s:
                fresh[device_id] = where
        near = nearest(origin, fresh, radius_km=self.p.radius_km, limit=6, exclude=r.device_id)
        same = sum(1 for n in near if zs[n][1] * z > 0 and abs(zs[n][1]) >= abs(z) / 2)
        return len(near), same

    def _decide(
        self, r: Reading, s: _Series, z: float, residual: float, spread: float, which: str,
        zs: dict[str, tuple[datetime, float]],
    ) -> tuple[Finding, ...]:  # fmt: skip
        bad = abs(z) >= (self.p.z_clear if s.active else self.p.z_open)
        isolated = False
        if bad and not s.active:
            near, same = self._shared(r, z, zs)
            isolated = near < 2
            if same >= 2:
                bad = False  # the neighbourhood moved too: weather or the city, not this sensor
            elif isolated and abs(z) < self.p.isolated_factor * self.p.z_open:
                bad = False  # nobody to tell a storm from a sensor: stronger evidence needed
        s.streak = s.streak + 1 if bad != s.active else 0
        if s.streak < (self.p.clear_after if s.active else self.p.open_after):
            return ()
        s.active, s.streak = bad, 0
        detail = (
            f"{r.metric} over the last {duration(self.p.level_s)} reads "
            f"{s.scale.describe(residual)} against its own {which} profile for this hour, whose "
            f"day-to-day spread is {s.scale.describe(spread).lstrip('+')}: z = {num(z)} "
            f"(limit {num(self.p.z_open)}), "
            + ("and it has no neighbours to compare with (limit doubled)" if isolated
               else "and its neighbours do not share the departure")
        )  # fmt: skip
        return (Finding(
            kind=KIND, device_id=r.device_id, key=r.metric, active=bad, severity="warning",
            time=r.time,
            title=f"{r.metric} unusual for this hour" if bad else f"{r.metric} usual again",
            reason=detail if bad else f"back within {num(self.p.z_clear)} robust sd: {detail}",
            metric=r.metric, value=r.value, threshold=self.p.z_open,
        ),)  # fmt: skip

    def tick(self, watermark: datetime) -> Iterable[Finding]:
        return ()


def load_history(detector: ProfileAnomalyDetector, conn: Connection, *, days: int) -> int:
    """Feed the rollups' hourly means of the watched series, oldest first; returns how many."""
    pairs = [(k, m) for k, ms in detector.p.series.items() for m in sorted(ms)]
    if not pairs:
        return 0
    kinds = [k for k, _ in pairs]
    names = [m for _, m in pairs]
    with conn.cursor(row_factory=tuple_row) as cur:
        rows = cur.execute(
            """SELECT d.id, d.kind, m.name, h.bucket, h.mean
               FROM telemetry_1h h
               JOIN devices d ON d.key = h.device_key
               JOIN metrics m ON m.id = h.metric_id
               JOIN unnest(%s::text[], %s::text[]) AS w(kind, name)
                 ON w.kind = m.kind AND w.name = m.name
               WHERE h.bucket >= now() - make_interval(days => %s)
               ORDER BY h.bucket""",
            (kinds, names, days),
        ).fetchall()
    for device_id, kind, metric, bucket, mean in rows:
        detector.learn_history(device_id, kind, metric, bucket, float(mean))
    return len(rows)


def factory(settings: Settings, conn: Connection) -> ProfileAnomalyDetector:
    from analytics.quality.config import series_setting

    params = ProfileParams(
        z_open=settings.quality_anomaly_z, radius_km=settings.quality_neighbour_radius_km,
        series=series_setting(settings),
    )  # fmt: skip
    detector = ProfileAnomalyDetector(params, Locations(conn))
    learnt = load_history(detector, conn, days=settings.quality_anomaly_profile_days)
    log.info("anomaly profiles learnt from %d hourly means of telemetry_1h", learnt)
    return detector
