"""Correlated noise in simulated time, so readings wander as real sensors and weather do."""

from __future__ import annotations

import math
import random


class OrnsteinUhlenbeck:
    """Mean-reverting noise whose correlation time is ``tau_s`` seconds of simulated time,
    whatever the reporting interval: a changed interval or a replay at another speed keeps
    the same statistics, which AR(1) with a fixed coefficient would not."""

    __slots__ = ("rng", "sigma", "tau_s", "value")

    def __init__(self, rng: random.Random, *, sigma: float, tau_s: float) -> None:
        self.rng = rng
        self.sigma = sigma
        self.tau_s = tau_s
        self.value = rng.gauss(0.0, sigma)

    def step(self, dt_s: float) -> float:
        if dt_s <= 0:
            return self.value
        keep = math.exp(-dt_s / self.tau_s)
        self.value = self.value * keep + self.sigma * math.sqrt(1 - keep * keep) * self.rng.gauss(
            0.0, 1.0
        )
        return self.value


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson count; normal approximation above 30 (counts per minute of a busy road)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def soft_cap(value: float, cap: float) -> float:
    """``value`` unchanged below 80 % of ``cap``, then bent smoothly so it never reaches it."""
    knee = 0.8 * cap
    if value <= knee:
        return value
    return knee + 0.2 * cap * math.tanh((value - knee) / (0.2 * cap))
