-- Threshold rules as data (docs/thresholds.md): what the alert engine evaluates, edited by
-- environment staff and operators through the API. The rule's content is validated by
-- analytics.thresholds.models before it reaches these tables; the checks here are a backstop.

CREATE TABLE threshold_rules (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL CHECK (name <> ''),
    metric          text NOT NULL,
    kind            text NOT NULL,
    scope_type      text NOT NULL
                    CHECK (scope_type IN ('device', 'kind', 'commune', 'tenant', 'all')),
    scope_value     text,
    comparison      text NOT NULL CHECK (comparison IN ('above', 'below', 'outside', 'rate_of_change')),
    -- {"warning": 45, "critical": 90}; for 'outside' each level is {"low": .., "high": ..}.
    levels          jsonb NOT NULL,
    clear_level     jsonb,
    min_duration_s  integer NOT NULL DEFAULT 0 CHECK (min_duration_s >= 0),
    "window"        text NOT NULL
                    CHECK ("window" IN ('instant', '1h_mean', '8h_running_mean', '24h_mean')),
    -- [{"start": "06:00:00", "end": "22:00:00"}], local time (UTC+7); [] = always.
    active_hours    jsonb NOT NULL DEFAULT '[]',
    enabled         boolean NOT NULL DEFAULT true,
    version         integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    -- Set on seeded rules only ('qcvn-05-2023:pm25:24h_mean', 'gauge:<device id>'): re-seeding
    -- inserts what is missing and never touches a row that exists, so staff edits survive.
    seed_key        text UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((scope_type = 'all') = (scope_value IS NULL))
);
CREATE INDEX threshold_rules_metric_idx ON threshold_rules (kind, metric);
CREATE INDEX threshold_rules_scope_idx ON threshold_rules (scope_type, scope_value);

-- Every create, update and disable: who, when, why, and the rule as it became.
CREATE TABLE threshold_rule_versions (
    rule_id     bigint NOT NULL REFERENCES threshold_rules (id),
    version     integer NOT NULL,
    change      text NOT NULL CHECK (change IN ('create', 'update', 'disable')),
    changed_by  text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    reason      text NOT NULL CHECK (btrim(reason) <> ''),
    rule        jsonb NOT NULL,
    PRIMARY KEY (rule_id, version)
);
