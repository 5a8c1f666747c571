-- Forecasts (docs/forecasts.md), written by `ioc analytics run` (analytics/forecast/service.py).

-- One row per trained model: what it was trained on and how, so every stored forecast can say
-- where it came from (version, training window, features, seed) and why (importance).
CREATE TABLE forecast_models (
    version      text PRIMARY KEY,
    metric       text NOT NULL,
    trained_at   timestamptz NOT NULL DEFAULT now(),
    train_from   timestamptz NOT NULL,
    train_to     timestamptz NOT NULL,
    step_s       integer NOT NULL CHECK (step_s > 0),
    seed         integer NOT NULL,
    devices      integer NOT NULL,
    features     text[] NOT NULL,
    -- [{"feature": name, "importance": share}] from permutation importance on held-out data
    importance   jsonb NOT NULL DEFAULT '[]',
    config       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX forecast_models_metric_idx ON forecast_models (metric, trained_at DESC);

-- One row per (issue, device, metric, target step). issued_at: the start of the first
-- forecast step (the origin); target_time: the start of the forecast step. The baselines'
-- point forecasts sit beside the model's quantiles, so the wall can show both.
CREATE TABLE forecasts (
    issued_at       timestamptz NOT NULL,
    device_key      integer NOT NULL,
    metric          text NOT NULL,
    target_time     timestamptz NOT NULL,
    horizon_h       real NOT NULL,
    p10             double precision NOT NULL,
    p50             double precision NOT NULL,
    p90             double precision NOT NULL,
    persistence     double precision,
    seasonal_naive  double precision,
    model_version   text NOT NULL REFERENCES forecast_models (version),
    created_at      timestamptz NOT NULL DEFAULT now()
);
-- About 50 rows per series an hour: week-long chunks, dropped by the forecast loop's own
-- retention (IOC_FORECAST_KEEP_DAYS).
SELECT create_hypertable('forecasts', by_range('issued_at', INTERVAL '7 days'),
                         create_default_indexes => false);
CREATE UNIQUE INDEX forecasts_identity_idx
    ON forecasts (device_key, metric, issued_at DESC, target_time);
