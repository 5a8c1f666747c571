-- VN_AQI per station as a time series (docs/aqi.md, "Stored AQI"), written by
-- `ioc analytics run` after each rollup refresh from telemetry_1h's hourly means.

-- hour: the END of the hour (01:00 = 00:00-01:00), as analytics/aqi stamps hourly means.
-- aqi NULL: the station reported that hour but the data allow no AQI (no PM NowCast).
-- sub_indices: every parameter's unrounded sub-index, as the decision asks to publish them.
-- computed_at changes only when the row's content does (upserts skip unchanged rows).
CREATE TABLE aqi_hourly (
    hour         timestamptz NOT NULL,
    device_key   integer NOT NULL,
    aqi          smallint CHECK (aqi BETWEEN 0 AND 500),
    dominant     text,
    sub_indices  jsonb NOT NULL DEFAULT '{}',
    computed_at  timestamptz NOT NULL DEFAULT now()
);
-- 24 rows per station a day, like telemetry_1h: the same 90-day chunks.
SELECT create_hypertable('aqi_hourly', by_range('hour', INTERVAL '90 days'),
                         create_default_indexes => false);
CREATE UNIQUE INDEX aqi_hourly_identity_idx ON aqi_hourly (device_key, hour DESC);
-- "Current" scans the last few hours of every station.
CREATE INDEX aqi_hourly_hour_idx ON aqi_hourly (hour DESC);

-- date: the VN_AQI day in Vietnam time (01:00 of date to 00:00 of the next day, UTC+7).
-- One row per station a day is small: a plain table.
CREATE TABLE aqi_daily (
    device_key   integer NOT NULL,
    date         date NOT NULL,
    aqi          smallint CHECK (aqi BETWEEN 0 AND 500),
    dominant     text,
    sub_indices  jsonb NOT NULL DEFAULT '{}',
    computed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_key, date)
);

-- The AQI chain's own bookkeeping: watermark = the hour-end up to which (exclusive) hours have
-- been computed; last_run_at = the telemetry rollup's last_run_at that this AQI run had seen,
-- so late hours are looked up on the same clock the rollup used (analytics/aqi_store.py).
INSERT INTO rollup_state (name) VALUES ('aqi');
