"""Writing issued forecasts and their models; reading the latest back for the API."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from psycopg import Connection
from pydantic import BaseModel

from analytics.forecast.model import QuantileForecaster
from ioc_core.db import fetch_all, fetch_one

__all__ = [
    "ForecastItem",
    "ForecastRow",
    "Importance",
    "IssuedForecast",
    "drop_old_forecasts",
    "latest_forecast",
    "model_info",
    "save_model",
    "write_forecasts",
]

# (issued_at, device_id, metric, target_time, horizon_h, p10, p50, p90, persistence,
#  seasonal_naive, model_version): one stored row, built by the service.
ForecastRow = tuple[
    datetime, str, str, datetime, float, float, float, float, float | None, float | None, str
]


class ForecastItem(BaseModel):
    time: datetime
    horizon_h: float
    p10: float
    p50: float
    p90: float
    persistence: float | None = None
    seasonal_naive: float | None = None


class Importance(BaseModel):
    feature: str
    importance: float


class IssuedForecast(BaseModel):
    """C5: the newest forecast of one device and metric, with where it came from."""

    device_id: str
    metric: str
    items: list[ForecastItem]
    model_version: str
    issued_at: datetime
    training_window: dict[str, datetime]
    features: list[str]
    explanation: list[Importance]
    seed: int


def save_model(conn: Connection, model: QuantileForecaster, *, devices: int) -> None:
    config = {k: v for k, v in asdict(model.config).items()}
    conn.execute(
        """INSERT INTO forecast_models (version, metric, train_from, train_to, step_s, seed,
                                        devices, features, importance, config)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (version) DO NOTHING""",
        (
            model.version, model.spec.metric, model.train_from, model.train_to,
            model.spec.step_s, model.config.seed, devices, model.features,
            json.dumps([{"feature": f, "importance": v} for f, v in model.importance]),
            json.dumps(config),
        ),
    )  # fmt: skip


def write_forecasts(conn: Connection, rows: list[ForecastRow]) -> int:
    """Insert (or replace, for a re-issue of the same origin) the rows; returns their count."""
    if not rows:
        return 0
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO forecasts (issued_at, device_key, metric, target_time, horizon_h,
                                      p10, p50, p90, persistence, seasonal_naive, model_version)
               SELECT %s, key, %s, %s, %s, %s, %s, %s, %s, %s, %s FROM devices WHERE id = %s
               ON CONFLICT (device_key, metric, issued_at, target_time) DO UPDATE SET
                   p10 = EXCLUDED.p10, p50 = EXCLUDED.p50, p90 = EXCLUDED.p90,
                   persistence = EXCLUDED.persistence,
                   seasonal_naive = EXCLUDED.seasonal_naive,
                   model_version = EXCLUDED.model_version, created_at = now()""",
            [(r[0], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[1]) for r in rows],
        )
    return len(rows)


def drop_old_forecasts(conn: Connection, *, older_than: datetime) -> None:
    conn.execute("SELECT drop_chunks('forecasts', older_than => %s)", (older_than,))


def latest_forecast(conn: Connection, *, device_id: str, metric: str) -> IssuedForecast | None:
    head = fetch_one(
        conn,
        """SELECT f.issued_at, f.model_version, m.train_from, m.train_to, m.features,
                  m.importance, m.seed
           FROM forecasts f JOIN forecast_models m ON m.version = f.model_version
           WHERE f.device_key = (SELECT key FROM devices WHERE id = %s) AND f.metric = %s
           ORDER BY f.issued_at DESC LIMIT 1""",
        (device_id, metric),
    )
    if head is None:
        return None
    issued_at, version, train_from, train_to, features, importance, seed = head
    items = fetch_all(
        conn,
        """SELECT target_time, horizon_h, p10, p50, p90, persistence, seasonal_naive
           FROM forecasts
           WHERE device_key = (SELECT key FROM devices WHERE id = %s) AND metric = %s
             AND issued_at = %s
           ORDER BY target_time""",
        (device_id, metric, issued_at),
    )
    return IssuedForecast(
        device_id=device_id,
        metric=metric,
        items=[_item(r) for r in items],
        model_version=version,
        issued_at=issued_at,
        training_window={"from": train_from, "to": train_to},
        features=list(features),
        explanation=[Importance(**e) for e in importance[:8]],
        seed=seed,
    )


def _item(row: tuple[Any, ...]) -> ForecastItem:
    time, horizon, p10, p50, p90, persistence, snaive = row
    return ForecastItem(time=time, horizon_h=round(float(horizon), 4), p10=p10, p50=p50, p90=p90,
                        persistence=persistence, seasonal_naive=snaive)  # fmt: skip


def model_info(conn: Connection, version: str) -> dict[str, Any] | None:
    row = fetch_one(
        conn,
        """SELECT version, metric, trained_at, train_from, train_to, step_s, seed, devices,
                  features, importance, config
           FROM forecast_models WHERE version = %s""",
        (version,),
    )
    if row is None:
        return None
    keys = ("version", "metric", "trained_at", "train_from", "train_to", "step_s", "seed",
            "devices", "features", "importance", "config")  # fmt: skip
    return dict(zip(keys, row, strict=True))
