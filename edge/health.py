"""Camera health: frozen, blackout, blur, scene change (tamper) and low light.

Computed on a small grey thumbnail every few frames, so it costs a fraction of a millisecond per
frame. Blur and scene change are judged against a reference learnt during the first seconds of
good video (sharpness and a coarse edge layout), not against absolute numbers: a foggy rural
camera and a crisp urban one both start "healthy". A condition must hold for ``hold_s`` before
it is raised and be gone as long before it clears, so a passing truck does not flap an event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from edge.config import HealthConfig
from edge.images import Image, grey_thumb

CONDITIONS: tuple[str, ...] = ("frozen", "blackout", "blur", "scene_change", "low_light")
# Conditions that make counts unreliable (camera_health = 0); low light only degrades them.
UNHEALTHY: frozenset[str] = frozenset({"frozen", "blackout", "blur", "scene_change", "no_video"})

# Reference learning: this many seconds of good frames (sharpness median, edge layout).
_LEARN_S = 4.0
# After a confirmed scene change the new view is learnt after this long (camera re-aimed).
_RELEARN_S = 30.0
# Mean absolute difference (grey levels) below which two thumbnails are "the same picture".
# Real sensors and encoders never give exactly 0 between live frames; a frozen feed does.
_FROZEN_DIFF = 0.05


@dataclass(frozen=True, slots=True)
class HealthChange:
    condition: str
    active: bool
    time: float
    value: float


@dataclass(slots=True)
class _Condition:
    active: bool = False
    since: float | None = None  # when the raw state last differed from `active`
    value: float = 0.0


@dataclass(slots=True)
class CameraHealth:
    cfg: HealthConfig
    state: dict[str, _Condition] = field(
        default_factory=lambda: {c: _Condition() for c in CONDITIONS}
    )
    _prev: Image | None = None
    _same_since: float | None = None
    _sharp: list[float] = field(default_factory=list)
    _sharp_ref: float | None = None
    _edges_ref: Image | None = None
    _learn_start: float | None = None
    _changed_since: float | None = None
    luma: float = 0.0

    @property
    def active(self) -> set[str]:
        return {name for name, c in self.state.items() if c.active}

    def healthy(self) -> bool:
        return not (self.active & UNHEALTHY)

    def update(self, frame: Image, t: float) -> list[HealthChange]:
        """Judge one analysis frame (BGR); returns raised and cleared conditions."""
        return self.judge(grey_thumb(frame), t)

    def judge(self, grey: Image, t: float) -> list[HealthChange]:
        """``update`` on the frame's grey thumbnail (``edge.images.grey_thumb``), for a caller
        that has made it already (the pipeline reads the scene's brightness from it too)."""
        g = grey.astype(np.float32)
        self.luma = float(g.mean())
        raw: dict[str, tuple[bool, float]] = {}
        # Frozen: the same picture for frozen_s (raw state flips immediately; hold is built in).
        if self._prev is not None and float(np.abs(g - self._prev).mean()) < _FROZEN_DIFF:
            self._same_since = self._same_since if self._same_since is not None else t
        else:
            self._same_since = None
        self._prev = g
        frozen_for = 0.0 if self._same_since is None else t - self._same_since
        raw["frozen"] = (frozen_for >= self.cfg.frozen_s, frozen_for)
        raw["blackout"] = (self.luma < self.cfg.blackout_luma, self.luma)
        raw["low_light"] = (
            self.cfg.blackout_luma <= self.luma < self.cfg.low_light_luma,
            self.luma,
        )
        dark = self.luma < self.cfg.low_light_luma
        sharp = float(cv2.Laplacian(grey, cv2.CV_32F).var())
        edges = cv2.GaussianBlur(cv2.Canny(grey, 60, 140).astype(np.float32), (9, 9), 0)
        self._learn(sharp, edges, t, usable=not dark and frozen_for == 0)
        if self._sharp_ref and not dark:
            ratio = sharp / self._sharp_ref
            raw["blur"] = (ratio < self.cfg.blur_ratio, ratio)
        else:
            raw["blur"] = (False, 1.0)
        if self._edges_ref is not None and not dark:
            moved = _edge_disagreement(self._edges_ref, edges)
            raw["scene_change"] = (moved > self.cfg.scene_change, moved)
        else:
            raw["scene_change"] = (False, 0.0)
        changes = [c for name, (on, v) in raw.items() if (c := self._hold(name, on, v, t))]
        self._relearn_after_tamper(t)
        return changes

    def _learn(self, sharp: float, edges: Image, t: float, *, usable: bool) -> None:
        if self._sharp_ref is not None or not usable:
            return
        if self._learn_start is None:
            self._learn_start = t
            self._edges_ref = None
        self._sharp.append(sharp)
        if t - self._learn_start >= _LEARN_S and len(self._sharp) >= 5:
            self._sharp_ref = float(np.median(self._sharp)) or None
            self._edges_ref = edges

    def _relearn_after_tamper(self, t: float) -> None:
        """A camera turned on purpose (re-aimed) must not stay "tampered" for ever."""
        if self.state["scene_change"].active:
            self._changed_since = self._changed_since if self._changed_since is not None else t
            if t - self._changed_since >= _RELEARN_S:
                self._sharp_ref, self._edges_ref, self._learn_start = None, None, None
                self._sharp = []
                self._changed_since = None
        else:
            self._changed_since = None

    def _hold(self, name: str, on: bool, value: float, t: float) -> HealthChange | None:
        c = self.state[name]
        c.value = value
        if on == c.active:
            c.since = None
            return None
        c.since = c.since if c.since is not None else t
        hold = 0.0 if name == "frozen" else self.cfg.hold_s
        if t - c.since < hold:
            return None
        c.active, c.since = on, None
        return HealthChange(name, on, t, value)


def _edge_disagreement(ref: Image, cur: Image) -> float:
    """1 - normalised correlation of the blurred edge maps: 0 same layout, ~1 another view.

    Vehicles passing change a few edges; a moved camera changes nearly all of them.
    """
    a = ref - ref.mean()
    b = cur - cur.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    if denom == 0:
        return 0.0
    return 1.0 - float((a * b).sum()) / denom
