"""One camera's analysis: frame in, crossings, zone readings and health changes out.

Stages (each timed, reported as ms/frame in node health and ``ioc bench edge``):
``resize`` -> ``stabilise`` (camera shake undone) -> ``subtract`` (background model, shadows
dropped, ROI mask) -> ``morphology`` (in the dark, headlight pools out, lamps tied to their
vehicle and a bus's body filled above its tail lights; then opening and closing) ->
``blobs`` -> ``track`` -> ``count`` (lines, class sizes, speed) -> ``zones`` -> ``health``.
The geometry is built when the first frame reveals the source size. Nothing of the frame
leaves this object: its outputs are numbers.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from edge.config import CameraConfig
from edge.count import Counter, Crossing
from edge.detect import Blob, Detector
from edge.geometry import Homography, Line, polygon_mask
from edge.health import CameraHealth, HealthChange
from edge.images import DARK_LUMA, Image, grey_thumb
from edge.lamps import HeadlightFilter, see_lamps
from edge.measure import box_size_m, roof_row_m
from edge.stabilise import Stabiliser
from edge.track import SizeSample, Track, Tracker
from edge.zones import ZoneMeter, ZoneReading, lines_occupied

STAGES: tuple[str, ...] = (
    "resize", "stabilise", "subtract", "shadows", "morphology", "blobs", "track", "count", "zones",
    "health",
)  # fmt: skip
# Health is judged on every n-th frame: conditions are held for seconds anyway.
_HEALTH_EVERY = 5
# Boxes this close to the frame or ROI border are cut off: their size is not sampled.
_BORDER_PX = 3
# Size samples kept per track: the best-resolved ones (edge/measure.py takes their median).
_MAX_SIZES = 60
# Boxes at least this share of car_min_width_m wide have their top fill measured.
_TOP_FILL_MIN_SHARE = 0.9


@dataclass(slots=True)
class FrameResult:
    time: float
    crossings: list[Crossing]
    zones: dict[str, ZoneReading]
    health: list[HealthChange]
    tracks: int


@dataclass(slots=True)
class StageClock:
    """Accumulated seconds per stage, reset when read (node health) or at the end (bench)."""

    total: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    frames: int = 0

    def ms_per_frame(self) -> dict[str, float]:
        n = max(self.frames, 1)
        return {name: round(self.total[name] * 1000 / n, 3) for name in self.total}

    def reset(self) -> None:
        self.total = defaultdict(float)
        self.frames = 0


class Pipeline:
    def __init__(
        self, config: CameraConfig, *, timer: Callable[[], float] = time.perf_counter
    ) -> None:
        """``timer``: wall clock for node health (can it keep up?), ``time.thread_time`` in the
        benchmark (what one core costs, whatever else the machine is doing)."""
        self.config = config
        self.timer = timer
        self.clock = StageClock()
        self.health = CameraHealth(config.health)
        self._ready = False
        self._frame_no = 0
        self._background_seen: Image | None = None
        self._background_dark = False

    def _setup(self, frame: Image) -> None:
        src_h, src_w = frame.shape[:2]
        width = min(self.config.processing.width, src_w)
        self.scale = width / src_w
        self.size = (width, max(1, round(src_h * self.scale)))
        shape = (self.size[1], self.size[0])
        roi = (
            polygon_mask(self.config.roi, self.scale, shape)
            if self.config.roi is not None
            else None
        )
        if roi is not None:
            ys, xs = np.nonzero(roi)
            self.roi_box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        else:
            self.roi_box = (0, 0, shape[1], shape[0])
        self.detector = Detector(self.config.processing, roi)
        self.stabiliser = Stabiliser() if self.config.processing.stabilise else None
        self.tracker = Tracker(
            max_coast_s=self.config.processing.max_coast_s, frame_area=float(shape[0] * shape[1])
        )
        self.homography = Homography.from_config(self.config, self.scale)
        self.lines = [Line.from_config(line, self.scale) for line in self.config.lines]
        self.counter = Counter(self.lines, self.homography, self.config.classification)
        self.headlights = (
            HeadlightFilter(self.homography, roi) if self.config.processing.headlights else None
        )
        self.zones = [ZoneMeter(z, self.scale, self.homography) for z in self.config.zones]
        self._ready = True

    def process(self, frame: Image, t: float) -> FrameResult:
        if not self._ready:
            self._setup(frame)
        clock = self.clock.total
        t0 = self.timer()
        small = (
            cv2.resize(frame, self.size, interpolation=cv2.INTER_LINEAR)
            if self.scale != 1.0
            else frame
        )
        ts = self.timer()
        if self.stabiliser is not None:
            small = self.stabiliser(small)
        t1 = self.timer()
        raw = self.detector.subtract(small)
        t2 = self.timer()
        if self.detector.texture:
            self.detector.reclaim(small, raw)
        t3 = self.timer()
        fg = self.detector.select(raw)
        clock["resize"] += ts - t0
        clock["stabilise"] += t1 - ts
        clock["subtract"] += t2 - t1
        clock["shadows"] += t3 - t2
        return self.analyse(small, fg, t)

    def analyse(self, small: Image, fg: Image, t: float, *, health: bool = True) -> FrameResult:
        """Everything after background subtraction: from the foreground mask to the numbers.

        Separate so that an evaluation can replay cached masks (``health=False``: the health
        checks need the colour frame; the class rules still read its brightness)."""
        clock = self.clock.total
        t2 = self.timer()
        background = self.detector.background
        lamps: list[Blob] | None = None
        if self.headlights is not None and background is not None and self._dark(background):
            grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
            heads = self.headlights.lamps(grey)
            self.headlights.apply(grey, background, fg, heads)
            tails = self.headlights.tail_lamps(small)
            lamps = heads + tails
            if self.detector.raw is not None:
                self.headlights.fill_rears(tails, self.detector.raw, fg)
        fg = self.detector.clean(fg)
        t3 = self.timer()
        blobs = self.detector.blobs(fg)
        t4 = self.timer()
        tracks, ended = self.tracker.update(blobs, t)
        if lamps is not None:
            see_lamps(tracks, lamps)
        t5 = self.timer()
        self._sample_sizes(tracks, fg, t)
        thumb = grey_thumb(small) if self._frame_no % _HEALTH_EVERY == 0 else None
        if thumb is not None:  # the class rules depend on daylight
            self.counter.luma = float(thumb.mean())
        self.counter.observe(tracks, t)
        crossings = self.counter.settle(t, ended)
        t6 = self.timer()
        zones = {z.name: z.read(tracks) for z in self.zones}
        if not self.zones:
            zones["lines"] = ZoneReading(lines_occupied(self.lines, tracks), 0.0)
        t7 = self.timer()
        changes: list[HealthChange] = []
        if health and thumb is not None:
            changes = self.health.judge(thumb, t)
        t8 = self.timer()
        self._frame_no += 1
        for name, dt in zip(
            STAGES[4:], (t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6, t8 - t7), strict=True
        ):
            clock[name] += dt
        self.clock.frames += 1
        return FrameResult(t, crossings, zones, changes, len(tracks))

    def _dark(self, background: Image) -> bool:
        """Is the scene dark? Read off the background model, not the frame: seen from above,
        a dark car filling the view darkens the frame in daylight (the real clip: 55), and
        there a white roof's glints passed for lamps."""
        if background is not self._background_seen:
            self._background_seen = background
            self._background_dark = float(background.mean()) < DARK_LUMA
        return self._background_dark

    def finish(self, t: float) -> list[Crossing]:
        """Crossings still waiting for their class at the end of the video."""
        return self.counter.settle(t, [], final=True) if self._ready else []

    def _sample_sizes(self, tracks: list[Track], fg: Image, t: float) -> None:
        bx0, by0, bx1, by1 = self.roi_box
        for tr in tracks:
            if not tr.matched_now or tr.shared:
                continue
            x0, y0, x1, y1 = tr.box
            if (
                x0 <= bx0 + _BORDER_PX
                or y0 <= by0 + _BORDER_PX
                or x1 >= bx1 - _BORDER_PX
                or y1 >= by1 - _BORDER_PX
            ):
                w, n = box_size_m(tr.box, self.homography)
                tr.partial = (max(tr.partial[0], w), max(tr.partial[1], n))
                continue
            width, length = box_size_m(tr.box, self.homography)
            res = width / max(x1 - x0, 1.0)  # ground metres per pixel across the box
            worst = -1
            if len(tr.sizes) >= _MAX_SIZES:
                worst = max(range(len(tr.sizes)), key=lambda i: tr.sizes[i].res)
                if res >= tr.sizes[worst].res:
                    continue
            sample = SizeSample(t, width, length, res, *self._roof(fg, tr, width))
            if worst < 0:
                tr.sizes.append(sample)
            else:
                tr.sizes[worst] = sample

    def _roof(self, fg: Image, tr: Track, width_m: float) -> tuple[float, float]:
        """Top fill and roof width at its own rows (``SizeSample``). Only a box nearly as wide
        as a car can be taken for one; narrower ones are not measured (1.0 and 0.0), which
        keeps the cost to the few wide boxes."""
        if width_m < _TOP_FILL_MIN_SHARE * self.config.classification.car_min_width_m:
            return 1.0, 0.0
        top = self.detector.top_fill(fg, tr.box)
        return top, roof_row_m(tr.box, top, self.homography)
