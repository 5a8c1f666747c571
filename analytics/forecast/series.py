"""One device's history of the target metric, with its exogenous inputs on the same grid."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from analytics.forecast.grid import Grid
from analytics.forecast.targets import TargetSpec

__all__ = ["DeviceSeries", "forward", "inverse"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class DeviceSeries:
    device_id: str
    grid: Grid
    exog: dict[str, FloatArray] = field(default_factory=dict)  # aligned with grid.values

    def head(self, n: int) -> DeviceSeries:
        """The first ``n`` steps: the history known before step ``n``."""
        return DeviceSeries(
            self.device_id,
            Grid(self.grid.start, self.grid.step, self.grid.values[:n]),
            {k: v[:n] for k, v in self.exog.items()},
        )


def forward(spec: TargetSpec, y: FloatArray) -> FloatArray:
    if spec.transform == "log1p":
        return np.log1p(np.maximum(y, 0.0))
    return y


def inverse(spec: TargetSpec, z: FloatArray) -> FloatArray:
    y = np.expm1(z) if spec.transform == "log1p" else z
    return np.maximum(y, 0.0) if spec.nonnegative else y
