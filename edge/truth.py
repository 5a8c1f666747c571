"""Traffic ground truth ``truth.json`` (team contract C2), as the video generator writes it.

Machine-written, so unknown keys are tolerated (a newer generator may add some) while the keys
we read are validated: a class outside the profile's four or a direction other than in/out is
an error naming the crossing, not a silent zero in the comparison.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.errors import TruthError

VehicleClass = Literal["motorbike", "car", "bus_truck", "bicycle"]


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class TruthLine(_Tolerant):
    name: str
    a: tuple[float, float]
    b: tuple[float, float]
    in_direction: tuple[float, float]


class TruthCrossing(_Tolerant):
    time_s: float = Field(ge=0)
    frame: int = Field(ge=0)
    line: str
    direction: Literal["in", "out"]
    cls: VehicleClass = Field(alias="class")
    vehicle: int | None = None


class Condition(_Tolerant):
    from_s: float
    to_s: float
    lighting: str | None = None
    rain: bool | None = None
    shake: bool | None = None


class Truth(_Tolerant):
    format: Literal["ioc-traffic-truth/1"]
    seed: int | None = None
    fps: float = Field(gt=0)
    frames: int = Field(ge=0)
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    duration_s: float = Field(ge=0)
    lines: list[TruthLine] = Field(default_factory=list)
    crossings: list[TruthCrossing]
    totals: dict[Literal["in", "out"], dict[VehicleClass, int]] | None = None
    conditions: list[Condition] = Field(default_factory=list)


def load_truth(path: Path) -> Truth:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TruthError(path, f"cannot read: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise TruthError(path, f"not JSON: line {exc.lineno}: {exc.msg}") from exc
    try:
        truth = Truth.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise TruthError(path, problems) from exc
    return truth
