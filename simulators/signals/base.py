"""The interface every kind's signal implements."""

from __future__ import annotations

import random
from datetime import datetime

from simulators.world import World


class Signal:
    """One device's readings over simulated time; holds its own noise state, so samples must
    be asked for in time order (as a device produces them)."""

    def __init__(self, seed: str) -> None:
        self.rng = random.Random(seed)
        self.last: datetime | None = None

    def _dt(self, at: datetime) -> float:
        dt = 0.0 if self.last is None else (at - self.last).total_seconds()
        self.last = at
        return max(0.0, dt)

    def sample(self, at: datetime, world: World) -> dict[str, float]:
        raise NotImplementedError
