"""Forecasts (C5): the newest forecast of a device's metric, with its model and explanation.

Handlers only translate HTTP to :mod:`analytics.forecast.store`; a device another tenant owns
answers 404 like one that does not exist (:func:`ioc_api.auth.scope.visible_device`).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException

from analytics.forecast.store import IssuedForecast, latest_forecast, model_info
from ioc_api.auth.scope import Reader, visible_device
from ioc_api.deps import DbConn

router = APIRouter(tags=["forecasts"])

ForecastMetric = Literal["pm25", "aqi", "traffic_volume", "water_level", "energy_daily"]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown device, or no forecast issued for it yet"}
}


@router.get("/forecasts", responses=_NOT_FOUND)
def get_forecast(
    conn: DbConn, principal: Reader, device_id: str, metric: ForecastMetric
) -> IssuedForecast:
    """p10/p50/p90 per forecast step (``time`` = the step's start), the baselines' point
    forecasts beside them, and the model's version, training window, features and main
    contributing features (permutation importance on held-out data)."""
    device = visible_device(conn, principal, device_id)
    forecast = latest_forecast(conn, device_id=device.id, metric=metric)
    if forecast is None:
        raise HTTPException(404, f"no {metric} forecast for {device_id} yet")
    return forecast


@router.get("/forecasts/models/{version}", responses=_NOT_FOUND)
def get_model(conn: DbConn, principal: Reader, version: str) -> dict[str, Any]:
    """A model's record: training window, seed, settings, features and their importance."""
    info = model_info(conn, version)
    if info is None:
        raise HTTPException(404, f"no forecast model {version!r}")
    return info
