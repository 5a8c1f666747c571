-- What ingest records beside the readings: conflicting values and the hours each batch touched.

-- First write wins. A later reading with the same identity (device, metric, time) but another
-- value is not stored in telemetry; it is kept here so the device's owner can see it.
CREATE TABLE telemetry_conflicts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time            timestamptz NOT NULL,
    device_key      integer NOT NULL,
    metric_id       smallint NOT NULL,
    stored_value    double precision NOT NULL,
    rejected_value  double precision NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX telemetry_conflicts_device_idx ON telemetry_conflicts (device_key, time DESC);

-- Hours of telemetry written to, and when last: a rollup recomputes the hours touched since it
-- last ran, so late and out-of-order readings are folded in instead of silently missed.
CREATE TABLE telemetry_touched_hours (
    hour        timestamptz PRIMARY KEY,
    readings    bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX telemetry_touched_updated_idx ON telemetry_touched_hours (updated_at);
