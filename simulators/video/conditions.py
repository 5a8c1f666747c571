"""How the scene's weather and light change over a run.

A run is cut into segments (day, cloud shadows, rain, dusk, night, camera shake) whose order is
fixed and whose lengths vary with the seed; lighting changes are cross-faded over a few seconds
as a real dusk is gradual, and ``light_level`` gives the continuous value the renderer needs.
Profiles: ``mixed`` (the default, all variations), ``day`` (daylight, noise and shadows, no
lighting change) and ``clean`` (day, no noise, no shake, no rain: for tests by construction).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

Lighting = Literal["day", "dusk", "night"]
Profile = Literal["mixed", "day", "clean"]
PROFILES: tuple[Profile, ...] = ("mixed", "day", "clean")

LEVEL: dict[Lighting, float] = {"day": 1.0, "dusk": 0.5, "night": 0.0}
FADE_S = 8.0  # a lighting change is blended over this long, centred on the boundary


@dataclass(frozen=True, slots=True)
class Segment:
    from_s: float
    to_s: float
    lighting: Lighting
    rain: bool = False
    shake: bool = False
    clouds: bool = False  # moving cloud shadows
    noise: float = 1.0  # sensor-noise multiplier; 0 disables
    compression: bool = False  # a starved stream: blocky JPEG-grade frames before encoding

    def as_contract(self) -> dict[str, Any]:
        return {
            "from_s": round(self.from_s, 3),
            "to_s": round(self.to_s, 3),
            "lighting": self.lighting,
            "rain": self.rain,
            "shake": self.shake,
            "clouds": self.clouds,
            "noise": self.noise,
            "compression": self.compression,
        }


# Templates with relative lengths. Day comes first and takes about half the run, because the
# accuracy goals are over mixed conditions, not mostly night.
_MIXED: tuple[tuple[Segment, float], ...] = (
    (Segment(0, 0, "day"), 1.2),
    (Segment(0, 0, "day", clouds=True), 1.2),
    (Segment(0, 0, "day", shake=True, clouds=True), 1.0),
    (Segment(0, 0, "day", rain=True, compression=True), 1.0),
    (Segment(0, 0, "dusk"), 1.0),
    (Segment(0, 0, "night"), 1.2),
    (Segment(0, 0, "night", rain=True, shake=True), 0.8),
    (Segment(0, 0, "dusk", compression=True), 0.6),
)


def plan_conditions(rng: np.random.Generator, duration_s: float, profile: Profile) -> list[Segment]:
    """Segments covering ``[0, duration_s]`` for a profile."""
    if profile == "clean":
        return [Segment(0.0, duration_s, "day", noise=0.0)]
    if profile == "day":
        return [Segment(0.0, duration_s, "day", clouds=True)]
    weights = np.array([w for _, w in _MIXED]) * rng.uniform(0.8, 1.2, len(_MIXED))
    bounds = np.concatenate([[0.0], np.cumsum(weights) / weights.sum() * duration_s])
    return [
        replace(template, from_s=float(bounds[i]), to_s=float(bounds[i + 1]))
        for i, (template, _) in enumerate(_MIXED)
    ]


def segment_at(segments: list[Segment], t: float) -> Segment:
    for seg in segments:
        if t < seg.to_s:
            return seg
    return segments[-1]


def light_level(segments: list[Segment], t: float) -> float:
    """1 for day, 0.5 dusk, 0 night; linear across a fade around a lighting change (``FADE_S``,
    or a quarter of the shorter segment in short clips, so each segment shows its own light)."""
    level = LEVEL[segment_at(segments, t).lighting]
    for prev, nxt in itertools.pairwise(segments):
        if prev.lighting == nxt.lighting:
            continue
        edge = prev.to_s
        fade = min(FADE_S, 0.25 * min(prev.to_s - prev.from_s, nxt.to_s - nxt.from_s))
        if abs(t - edge) < fade / 2:
            u = (t - edge + fade / 2) / fade
            return LEVEL[prev.lighting] * (1 - u) + LEVEL[nxt.lighting] * u
    return level
