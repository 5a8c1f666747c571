-- The alert engine (docs/alerts.md): 0006's `alerts` extended with what an operator needs to
-- trust an alert (the rule and version that raised it, the evidence, the event time), the
-- `closed` state, assignment and escalation; an audit trail of every change; and a durable
-- outbox for notifications so a restart loses none.

ALTER TABLE alerts DROP CONSTRAINT alerts_state_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_state_check
    CHECK (state IN ('open', 'acknowledged', 'resolved', 'closed'));
-- A closed alert keeps its resolution time; one closed straight from open gets it at closing.
ALTER TABLE alerts DROP CONSTRAINT alerts_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_resolved_at_check
    CHECK ((state IN ('resolved', 'closed')) = (resolved_at IS NOT NULL));

ALTER TABLE alerts
    -- Dedupe key inside (kind, device): a rule id, a metric name; '' for one-per-device kinds.
    ADD COLUMN key               text NOT NULL DEFAULT '',
    ADD COLUMN rule_id           bigint REFERENCES threshold_rules (id),
    ADD COLUMN rule_version      integer,
    ADD COLUMN commune_code      text,
    ADD COLUMN metric            text,
    ADD COLUMN value             double precision,
    ADD COLUMN threshold         double precision,
    ADD COLUMN reason            text NOT NULL DEFAULT '',
    -- Event time (the reading's timestamp) of the evidence that opened it, and of the latest
    -- change; opened_at/updated_at stay the database clock. Replays keep the two apart.
    ADD COLUMN event_time        timestamptz,
    ADD COLUMN last_event_time   timestamptz,
    ADD COLUMN acknowledged_at   timestamptz,
    ADD COLUMN acknowledged_by   text,
    ADD COLUMN resolved_by       text,
    ADD COLUMN closed_at         timestamptz,
    ADD COLUMN closed_by         text,
    ADD COLUMN assignee          text,
    ADD COLUMN escalation_level  integer NOT NULL DEFAULT 0 CHECK (escalation_level >= 0),
    ADD COLUMN escalated_at      timestamptz,
    ADD COLUMN labels            jsonb NOT NULL DEFAULT '{}'
                                 CHECK (jsonb_typeof(labels) = 'object');
ALTER TABLE alerts ADD CONSTRAINT alerts_closed_at_check
    CHECK ((state = 'closed') = (closed_at IS NOT NULL));

-- One live alert per (kind, device, key). Live = open or acknowledged: a resolved alert waits
-- for an operator to close it, and the condition coming back is a new alert. NULLS NOT
-- DISTINCT: an alert about no single device dedupes too. Liveness's connectivity alerts use
-- key '' (devices/liveness.py infers this index in its ON CONFLICT).
DROP INDEX alerts_one_open_connectivity_idx;
CREATE UNIQUE INDEX alerts_one_live_idx ON alerts (kind, device_id, key) NULLS NOT DISTINCT
    WHERE state IN ('open', 'acknowledged');
-- Escalation scans unacknowledged open alerts only.
CREATE INDEX alerts_unacknowledged_idx ON alerts (opened_at) WHERE state = 'open';
CREATE INDEX alerts_state_idx ON alerts (state, id DESC);

-- Who did what to an alert, when, and the fields before and after. Written by the trigger
-- below for every insert and update, whoever writes (the engine, liveness, the API); the
-- writer names itself with set_config('ioc.alert_actor', ..., true) and may add a note
-- ('ioc.alert_note'). Comments are rows of their own (action 'comment').
CREATE TABLE alert_events (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id  bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    time      timestamptz NOT NULL DEFAULT now(),
    actor     text NOT NULL,
    action    text NOT NULL CHECK (action IN ('open', 'update', 'severity', 'acknowledge',
                                               'resolve', 'close', 'assign', 'escalate',
                                               'comment')),
    before    jsonb,
    after     jsonb,
    note      text
);
CREATE INDEX alert_events_alert_idx ON alert_events (alert_id, id);

CREATE FUNCTION alerts_audit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    actor   text := coalesce(nullif(current_setting('ioc.alert_actor', true), ''), NEW.source);
    note    text := nullif(current_setting('ioc.alert_note', true), '');
    old_doc jsonb;
    new_doc jsonb;
    b       jsonb := '{}';
    a       jsonb := '{}';
    k       text;
    act     text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO alert_events (alert_id, actor, action, after, note)
        VALUES (NEW.id, actor, 'open',
                jsonb_build_object('state', NEW.state, 'severity', NEW.severity,
                                   'value', NEW.value, 'threshold', NEW.threshold,
                                   'reason', coalesce(nullif(NEW.reason, ''), NEW.detail)),
                note);
        RETURN NULL;
    END IF;
    old_doc := to_jsonb(OLD);
    new_doc := to_jsonb(NEW);
    FOR k IN SELECT jsonb_object_keys(new_doc) LOOP
        IF k <> 'updated_at' AND new_doc -> k IS DISTINCT FROM old_doc -> k THEN
            b := b || jsonb_build_object(k, old_doc -> k);
            a := a || jsonb_build_object(k, new_doc -> k);
        END IF;
    END LOOP;
    IF a = '{}' THEN
        RETURN NULL;
    END IF;
    act := CASE
        WHEN NEW.state IS DISTINCT FROM OLD.state THEN
            CASE NEW.state WHEN 'acknowledged' THEN 'acknowledge' WHEN 'resolved' THEN 'resolve'
                           WHEN 'closed' THEN 'close' ELSE 'update' END
        WHEN NEW.escalation_level IS DISTINCT FROM OLD.escalation_level THEN 'escalate'
        WHEN NEW.severity IS DISTINCT FROM OLD.severity THEN 'severity'
        WHEN NEW.assignee IS DISTINCT FROM OLD.assignee THEN 'assign'
        ELSE 'update' END;
    INSERT INTO alert_events (alert_id, actor, action, before, after, note)
    VALUES (NEW.id, actor, act, b, a, note);
    RETURN NULL;
END $$;

CREATE TRIGGER alerts_audit AFTER INSERT OR UPDATE ON alerts
    FOR EACH ROW EXECUTE FUNCTION alerts_audit();

-- Notifications to deliver: one row per alert change, written in the transaction that made
-- the change (analytics.alerts.apply_findings), so a crash between the change and its
-- notification cannot lose the notification. The notifier fans a row out into one delivery
-- per target (the MQTT topic, each webhook URL) and retries each with backoff.
CREATE TABLE alert_outbox (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id       bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    payload        jsonb NOT NULL,
    fanned_out_at  timestamptz
);
CREATE INDEX alert_outbox_pending_idx ON alert_outbox (id) WHERE fanned_out_at IS NULL;

CREATE TABLE alert_deliveries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outbox_id        bigint NOT NULL REFERENCES alert_outbox (id) ON DELETE CASCADE,
    target           text NOT NULL,          -- 'mqtt' or a webhook URL
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    failed_at        timestamptz,            -- gave up after the last retry
    last_error       text,
    UNIQUE (outbox_id, target)
);
CREATE INDEX alert_deliveries_due_idx ON alert_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
