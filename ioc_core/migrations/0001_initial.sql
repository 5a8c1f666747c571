-- Initial schema: registry, metric catalogue, narrow telemetry hypertable, dead letters.
CREATE EXTENSION IF NOT EXISTS timescaledb;

-- The owning agency or enterprise. Ids are MQTT topic segments, hence the pattern.
CREATE TABLE tenants (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The 114 commune-level units; synced from devices/data/communes.csv by `ioc db migrate`.
CREATE TABLE communes (
    code        text PRIMARY KEY CHECK (code ~ '^[0-9]{5}$'),
    no          smallint NOT NULL UNIQUE,
    kind        text NOT NULL CHECK (kind IN ('phuong', 'xa', 'dac_khu')),
    name        text NOT NULL,
    full_name   text NOT NULL,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    area_km2    double precision
);

-- Metric catalogue: one row per (device kind, metric) from the device profiles, so the same
-- metric name may carry different units for different kinds (pressure in hPa vs bar).
CREATE TABLE metrics (
    id          smallint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL,
    name        text NOT NULL,
    unit        text NOT NULL,
    min_value   double precision NOT NULL,
    max_value   double precision NOT NULL,
    interval_s  integer NOT NULL CHECK (interval_s > 0),
    description text NOT NULL DEFAULT '',
    UNIQUE (kind, name)
);

CREATE TABLE devices (
    id            text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    -- Compact surrogate used in telemetry: a 4-byte key instead of the text id makes every
    -- telemetry row and index entry smaller and the ingest path ~30 % faster (measured).
    key           integer GENERATED ALWAYS AS IDENTITY UNIQUE,
    kind          text NOT NULL,
    tenant_id     text NOT NULL REFERENCES tenants (id),
    commune_code  text REFERENCES communes (code),
    lat           double precision CHECK (lat BETWEEN -90 AND 90),
    lon           double precision CHECK (lon BETWEEN -180 AND 180),
    address       text,
    install_date  date,
    firmware      text,
    tags          text[] NOT NULL DEFAULT '{}',
    attributes    jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    -- Freshness, maintained by ingest per batch (not per message).
    last_seen     timestamptz,
    last_seq      bigint
);
CREATE INDEX devices_kind_idx ON devices (kind);
CREATE INDEX devices_tenant_idx ON devices (tenant_id);
CREATE INDEX devices_commune_idx ON devices (commune_code);

-- Narrow telemetry: one reading per row. The identity of a reading is
-- (device, metric, time); the unique index makes redelivery idempotent and serves the two hot
-- queries (a device's series, a device's latest value) as an index range scan.
CREATE TABLE telemetry (
    time        timestamptz NOT NULL,
    device_key  integer NOT NULL,
    metric_id   smallint NOT NULL,
    value       double precision NOT NULL
);
-- No default B-tree on time: it cost ~25 % of insert throughput. City-wide time-range scans
-- prune by chunk (one day each) and use the BRIN index below, which costs almost nothing to
-- maintain because readings arrive in time order.
SELECT create_hypertable('telemetry', by_range('time', INTERVAL '1 day'),
                         create_default_indexes => false);
CREATE UNIQUE INDEX telemetry_identity_idx ON telemetry (device_key, metric_id, time DESC);
CREATE INDEX telemetry_time_brin ON telemetry USING brin (time);

-- Rejected input, kept so a device maker can see why (raw payload bounded by ingest).
CREATE TABLE dead_letters (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at        timestamptz NOT NULL DEFAULT now(),
    topic              text NOT NULL,
    tenant_id          text,
    device_id          text,
    reason             text NOT NULL,
    detail             text NOT NULL,
    payload            bytea NOT NULL,
    payload_truncated  boolean NOT NULL DEFAULT false
);
CREATE INDEX dead_letters_received_idx ON dead_letters (received_at DESC);
CREATE INDEX dead_letters_device_idx ON dead_letters (device_id, received_at DESC);
