-- Rollups kept by `ioc analytics` (docs/rollups.md): Apache TimescaleDB has no continuous
-- aggregates, so these are plain hypertables refreshed incrementally behind a watermark.

-- sum and count rather than only a mean, so a coarser bucket (1h from 1m, or any window the
-- API asks for) re-aggregates exactly; mean is derived for readers. last/last_time: the value at
-- the latest reading of the bucket, so 1h's last can be taken from its 1m buckets.
CREATE TABLE telemetry_1m (
    bucket      timestamptz NOT NULL,
    device_key  integer NOT NULL,
    metric_id   smallint NOT NULL,
    min         double precision NOT NULL,
    max         double precision NOT NULL,
    sum         double precision NOT NULL,
    count       bigint NOT NULL CHECK (count > 0),
    mean        double precision GENERATED ALWAYS AS (sum / count) STORED,
    last        double precision NOT NULL,
    last_time   timestamptz NOT NULL
);
-- A week per chunk: ~1,440 rows per series a day, so chunks stay near telemetry's in size per
-- series-day budget while `drop_chunks` still trims retention to within a week.
SELECT create_hypertable('telemetry_1m', by_range('bucket', INTERVAL '7 days'),
                         create_default_indexes => false);
CREATE UNIQUE INDEX telemetry_1m_identity_idx ON telemetry_1m (device_key, metric_id, bucket DESC);

CREATE TABLE telemetry_1h (LIKE telemetry_1m INCLUDING GENERATED INCLUDING CONSTRAINTS);
-- 24 rows per series a day: 90-day chunks keep the chunk count low over ten years.
SELECT create_hypertable('telemetry_1h', by_range('bucket', INTERVAL '90 days'),
                         create_default_indexes => false);
CREATE UNIQUE INDEX telemetry_1h_identity_idx ON telemetry_1h (device_key, metric_id, bucket DESC);

-- One row per rollup chain. watermark: telemetry before it has been rolled up (minus the safety
-- margin recomputed every run); last_run_at: the database clock at the last refresh, compared
-- with telemetry_touched_hours.updated_at (same clock) to find late data.
CREATE TABLE rollup_state (
    name         text PRIMARY KEY,
    watermark    timestamptz,
    last_run_at  timestamptz
);
INSERT INTO rollup_state (name) VALUES ('telemetry');
