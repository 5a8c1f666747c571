"""Anomaly against the neighbours: a station whose level departs from nearby stations of the
same kind by much more than it usually does.

Every ``eval_s`` of event time a series' level is the median of its last ``level_s`` of
readings (robust to spikes); its residual is that level minus the median level of up to
``max_neighbours`` nearest stations within ``radius_km`` that have a fresh level. What is
usual is learnt online per station: the median and MAD of its residuals while it looked
normal (urban and rural stations, big and small drains, differ by a steady offset). The
robust z-score of the current residual against them opens the alert at ``z_open`` on
``open_after`` evaluations in a row and clears below ``z_clear``. A weather front, a storm
or nightfall moves every station together and leaves the residual alone; a drifting sensor
moves alone. A flat window is left to the flat-line detector. While the neighbourhood
itself moves fast (the median of the neighbours' second half-window departs from that of
their first half by more than ``z_open`` spreads: drains filling within minutes as a storm
breaks) nothing is judged or learnt: a window straddling a common step compares phases of
reporting, not sensors.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median

from psycopg import Connection

from analytics.alerts import Finding, Reading
from analytics.quality.anomaly_series import ANOMALY_SERIES, Scale
from analytics.quality.catalogue import Catalogue, series_interest
from analytics.quality.directory import Locations
from analytics.quality.neighbours import distance_km
from analytics.quality.spike import MAD_TO_SIGMA
from analytics.quality.wording import duration, num
from ioc_core.settings import Settings

KIND = "anomaly_neighbour"


@dataclass(frozen=True)
class NeighbourParams:
    radius_km: float = 40.0
    max_neighbours: int = 6
    min_neighbours: int = 3  # with two, one faulty neighbour would move the reference
    level_s: float = 1800.0  # the level is the median of this much recent data
    eval_s: float = 300.0
    fresh_s: float = 900.0  # a neighbour's level older than this is not compared
    min_window: int = 5
    warmup: int = 12  # residuals learnt before judging (an hour at eval_s = 300)
    history: int = 144
    z_open: float = 5.0
    z_clear: float = 3.0
    z_learn: float = 3.0  # residuals beyond this are not learnt as normal
    open_after: int = 2
    clear_after: int = 2
    series: Mapping[str, frozenset[str]] = field(default_factory=lambda: dict(ANOMALY_SERIES))


@dataclass(slots=True)
class _Series:
    scale: Scale
    window: deque[tuple[datetime, float]] = field(default_factory=deque)
    next_eval: datetime | None = None
    history: deque[float] = field(default_factory=deque)
    active: bool = False
    streak: int = 0
    # The kind it was made for and that kind's range: a reading of that kind needs no
    # catalogue look-up (made only for watched kinds/metrics).
    kind: str = ""
    low: float = 0.0
    high: float = 0.0


class NeighbourAnomalyDetector:
    def __init__(
        self,
        params: NeighbourParams | None = None,
        locations: Locations | None = None,
        catalogue: Catalogue | None = None,
    ) -> None:
        self.p = params or NeighbourParams()
        # What observe() judges, declared so the engine routes nothing else here.
        self.kinds, self.metrics = series_interest(self.p.series)
        self.locations = locations or Locations()
        self.catalogue = catalogue or Catalogue()
        self._series: dict[tuple[str, str], _Series] = {}
        self._level = timedelta(seconds=self.p.level_s)
        self._half_level = timedelta(seconds=self.p.level_s / 2)
        self._horizon = timedelta(seconds=2 * self.p.level_s)
        self._eval = timedelta(seconds=self.p.eval_s)
        # (kind, metric) -> devices reporting it; and each device's neighbours among them,
        # nearest first, recomputed when the membership changes.
        self._members: dict[tuple[str, str], set[str]] = {}
        self._near: dict[tuple[str, str], tuple[tuple[int, int], list[tuple[float, str]]]] = {}

    def observe(self, reading: Reading) -> Iterable[Finding]:
        key = (reading.device_id, reading.metric)
        s = self._series.get(key)
        if s is not None and s.kind == reading.kind:
            # The kind the series was made for: its range is known (no look-ups).
            if not s.low <= reading.value <= s.high:
                return ()
        else:
            metrics = self.p.series.get(reading.kind)
            if metrics is None or reading.metric not in metrics:
                return ()
            spec = self.catalogue.spec(reading.kind, reading.metric)
            if spec is None or not spec.min <= reading.value <= spec.max:
                return ()
            if s is None:
                s = self._series[key] = _Series(
                    Scale(spec), history=deque(maxlen=self.p.history), kind=reading.kind,
                    low=spec.min, high=spec.max,
                )  # fmt: skip
                self._members.setdefault((reading.kind, reading.metric), set()).add(
                    reading.device_id
                )
        if s.window and reading.time <= s.window[-1][0]:
            return ()
        s.window.append((reading.time, s.scale.to(reading.value)))
        # Twice the level window: a neighbour is read over the judged device's window, which
        # may end a little after the neighbour's own latest reading.
        horizon = reading.time - self._horizon
        while s.window and s.window[0][0] <= horizon:
            s.window.popleft()
        if s.next_eval is not None and reading.time < s.next_eval:
            return ()
        s.next_eval = reading.time + self._eval
        values = self._values(s, reading.time)
        if len(values) < self.p.min_window or max(values) == min(values):
            return ()
        return self._judge(reading, s, values)

    def _values(self, s: _Series, until: datetime) -> list[float]:
        """The series' values in the level window ending at ``until``, on its scale."""
        since = until - self._level
        if s.window and s.window[-1][0] <= until:
            # The window is in time order: nothing in it is later than its last reading.
            return [x for t, x in s.window if since < t]
        return [x for t, x in s.window if since < t <= until]

    def _neighbours(self, r: Reading) -> list[tuple[float, str]]:
        group = (r.kind, r.metric)
        members = self._members[group]
        cache_key = (r.device_id, r.metric)
        origin = self.locations.get(r.device_id)  # may reload the registry: look first
        stamp = (len(members), self.locations.version)
        cached = self._near.get(cache_key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        found: list[tuple[float, str]] = []
        if origin is not None:
            for other in members:
                where = self.locations.get(other) if other != r.device_id else None
                if where is not None:
                    d = distance_km(origin, where)
                    if d <= self.p.radius_km:
                        found.append((d, other))
            found.sort()
        self._near[cache_key] = (stamp, found)
        return found

    def _judge(self, r: Reading, s: _Series, values: list[float]) -> tuple[Finding, ...]:
        """``values``: the series' level window; its median is only taken once there are
        neighbours to compare it with (a station alone is most of the evaluations)."""
        # Neighbours are read over the same window as the judged device: during a storm's
        # fast rise a level computed minutes apart would differ by the rise itself.
        near: list[tuple[float, str, float]] = []
        halves: list[tuple[float, float]] = []
        middle = r.time - self._half_level
        since = r.time - self._level
        for dist, other in self._neighbours(r):
            o = self._series.get((other, r.metric))
            if o is None or not o.window:
                continue
            if (r.time - o.window[-1][0]).total_seconds() > self.p.fresh_s:
                continue
            window = [(t, x) for t, x in o.window if since < t <= r.time]
            if len(window) >= max(3, self.p.min_window // 2):
                near.append((dist, other, median(x for _, x in window)))
                first = [x for t, x in window if t <= middle]
                second = [x for t, x in window if t > middle]
                if first and second:
                    halves.append((median(first), median(second)))
            if len(near) >= self.p.max_neighbours:
                break
        if len(near) < self.p.min_neighbours:
            return ()
        reference = median(level_n for _, _, level_n in near)
        residual = median(values) - reference
        spread = s.scale.floor
        if len(s.history) >= self.p.warmup:
            usual = median(s.history)
            spread = max(spread, MAD_TO_SIGMA * median(abs(x - usual) for x in s.history))
        if len(halves) >= self.p.min_neighbours:
            shift = median(b for _, b in halves) - median(a for a, _ in halves)
            if abs(shift) > self.p.z_open * spread:
                return ()  # the whole neighbourhood is moving: judge once it has settled
        if len(s.history) < self.p.warmup:
            s.history.append(residual)
            return ()
        usual = median(s.history)
        z = (residual - usual) / spread
        if abs(z) < self.p.z_learn:
            s.history.append(residual)
        bad = abs(z) >= (self.p.z_clear if s.active else self.p.z_open)
        s.streak = s.streak + 1 if bad != s.active else 0
        needed = self.p.clear_after if s.active else self.p.open_after
        if s.streak < needed:
            return ()
        s.active, s.streak = bad, 0
        places = [f"{other} {num(dist)} km" for dist, other, _ in near]
        detail = (
            f"{r.metric} over the last {duration(self.p.level_s)} reads "
            f"{s.scale.describe(residual)} against the median of {len(near)} neighbouring "
            f"{r.kind} stations within {num(self.p.radius_km)} km ({', '.join(places)}); "
            f"its usual offset is {s.scale.describe(usual)} with a robust spread of "
            f"{s.scale.describe(spread).lstrip('+')}: z = {num(z)}"
        )
        return (Finding(
            kind=KIND, device_id=r.device_id, key=r.metric, active=bad,
            severity="warning", time=r.time,
            title=f"{r.metric} disagrees with neighbours" if bad
            else f"{r.metric} agrees with neighbours again",
            reason=detail if bad else f"back within {num(self.p.z_clear)} robust sd: {detail}",
            metric=r.metric, value=r.value, threshold=self.p.z_open,
        ),)  # fmt: skip

    def tick(self, watermark: datetime) -> Iterable[Finding]:
        return ()


def factory(settings: Settings, conn: Connection) -> NeighbourAnomalyDetector:
    from analytics.quality.config import series_setting

    params = NeighbourParams(
        radius_km=settings.quality_neighbour_radius_km, z_open=settings.quality_anomaly_z,
        series=series_setting(settings),
    )  # fmt: skip
    return NeighbourAnomalyDetector(params, Locations(conn))
