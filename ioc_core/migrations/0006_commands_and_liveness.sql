-- Commands to devices, device status history (liveness) and the generic alerts table.

-- A command sent to one device over its MQTT `command` topic. States only move forward:
-- queued -> sent -> accepted -> done | failed, or rejected / expired from an earlier state;
-- devices/commands.py enforces the order, the CHECK only the vocabulary.
CREATE TABLE commands (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    device_id     text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    args          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(args) = 'object'),
    state         text NOT NULL DEFAULT 'queued' CONSTRAINT commands_state_check
                  CHECK (state IN ('queued', 'sent', 'accepted', 'done', 'failed', 'rejected',
                                   'expired')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- First publication; `attempts` counts re-publications after the device reconnected.
    sent_at       timestamptz,
    attempts      integer NOT NULL DEFAULT 0,
    acked_at      timestamptz,
    expires_at    timestamptz NOT NULL,
    detail        text,
    requested_by  text,
    CHECK (expires_at > created_at)
);
CREATE INDEX commands_device_idx ON commands (device_id, created_at DESC);
-- The control loop looks for undelivered commands every second; keep that scan tiny.
CREATE INDEX commands_pending_idx ON commands (device_id, created_at)
    WHERE state IN ('queued', 'sent');

-- Transitions of a device between online and offline, for status history and uptime reports.
-- A plain table, not a hypertable: one row per transition (a few a day per device, not one
-- per reading), every report needs the whole history of a device, and a foreign key to
-- devices keeps orphan rows out.
CREATE TABLE device_status_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id  text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    time       timestamptz NOT NULL DEFAULT now(),
    state      text NOT NULL CHECK (state IN ('online', 'offline')),
    -- device: its own status message; will: its MQTT last will; telemetry: seen again after
    -- an offline; silence: nothing received for 3 of its kind's intervals.
    source     text NOT NULL CONSTRAINT device_status_events_source_check
               CHECK (source IN ('device', 'will', 'telemetry', 'silence')),
    reason     text,
    -- The `ts` the device wrote in its status message (the connect time, in a last will).
    device_ts  timestamptz
);
CREATE INDEX device_status_events_device_idx ON device_status_events (device_id, time DESC, id DESC);

-- Alerts of every kind; the alert engine of a later issue adds kinds, liveness opens
-- `connectivity` ones. `device_id` is null for alerts about no single device.
CREATE TABLE alerts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]{0,63}$'),
    severity     text NOT NULL CHECK (severity IN ('advisory', 'warning', 'critical')),
    state        text NOT NULL DEFAULT 'open'
                 CHECK (state IN ('open', 'acknowledged', 'resolved')),
    device_id    text REFERENCES devices (id) ON DELETE CASCADE,
    tenant_id    text REFERENCES tenants (id),
    title        text NOT NULL,
    detail       text NOT NULL DEFAULT '',
    opened_at    timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz,
    source       text NOT NULL,
    CHECK ((state = 'resolved') = (resolved_at IS NOT NULL))
);
-- At most one unresolved connectivity alert per device: an operator acknowledging it must not
-- make the next liveness pass open a second one.
CREATE UNIQUE INDEX alerts_one_open_connectivity_idx ON alerts (device_id)
    WHERE kind = 'connectivity' AND state <> 'resolved';
CREATE INDEX alerts_open_idx ON alerts (opened_at DESC) WHERE state <> 'resolved';
CREATE INDEX alerts_device_idx ON alerts (device_id, opened_at DESC);
CREATE INDEX alerts_tenant_idx ON alerts (tenant_id, opened_at DESC);
