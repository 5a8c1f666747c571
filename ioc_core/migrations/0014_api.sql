-- The API's tables and triggers (issue 9): latest values, alert notifications, dead-letter
-- look-ups by tenant.

-- The newest reading of every (device, metric): what the wall's map and `GET /telemetry/latest`
-- read, one index probe per series instead of a descending scan of each series in telemetry.
-- Kept by the API's latest-value sweep (ioc_api/services/latest.py) once a second, for the
-- devices whose devices.last_seen (set by ingest per batch) moved since the last sweep; ingest
-- itself is not slowed. fillfactor leaves room for HOT updates: time and value change, the key
-- never does.
CREATE TABLE telemetry_latest (
    device_key  integer NOT NULL,
    metric_id   smallint NOT NULL,
    time        timestamptz NOT NULL,
    value       double precision NOT NULL,
    PRIMARY KEY (device_key, metric_id)
) WITH (fillfactor = 70);

-- The devices.last_seen each device had when the sweep last read its series: a device whose
-- last_seen is newer has readings the sweep has not folded in yet, however late they arrived.
CREATE TABLE telemetry_latest_sync (
    device_key  integer PRIMARY KEY,
    last_seen   timestamptz NOT NULL
) WITH (fillfactor = 70);

-- Contract C4: every alert-row change is announced on the `ioc_alerts` channel, so the API's
-- live stream (and anyone else who LISTENs) learns of it without polling. Only columns that
-- migration 0006 created are named, so the trigger survives 0012's extensions.
CREATE FUNCTION ioc_alerts_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r alerts;
BEGIN
    IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
    PERFORM pg_notify('ioc_alerts', json_build_object(
        'id', r.id, 'op', lower(TG_OP), 'state', r.state, 'severity', r.severity,
        'kind', r.kind, 'device_id', r.device_id, 'tenant_id', r.tenant_id)::text);
    RETURN NULL;
END $$;

CREATE TRIGGER alerts_notify AFTER INSERT OR UPDATE OR DELETE ON alerts
    FOR EACH ROW EXECUTE FUNCTION ioc_alerts_notify();

-- `GET /dead-letters` of one tenant, newest first, keyset on id.
CREATE INDEX dead_letters_tenant_idx ON dead_letters (tenant_id, id DESC);
