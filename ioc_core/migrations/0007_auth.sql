-- People and machines that use the API, and what they did.

-- Roles: operator and environment_staff work city-wide; agency_admin and viewer may be bound to
-- a tenant (then they see only its devices); open_data reads only the open-data endpoints.
CREATE TABLE users (
    username       text PRIMARY KEY CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
    password_hash  text NOT NULL,
    role           text NOT NULL CHECK (role IN
                       ('operator', 'environment_staff', 'agency_admin', 'viewer', 'open_data')),
    tenant_id      text REFERENCES tenants (id),
    display_name   text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    disabled_at    timestamptz,
    CHECK (role <> 'agency_admin' OR tenant_id IS NOT NULL)
);

-- Machine clients. The key is shown once; we keep its prefix (to find it) and a hash.
CREATE TABLE api_keys (
    prefix        text PRIMARY KEY,
    key_hash      text NOT NULL,
    name          text NOT NULL,
    role          text NOT NULL CHECK (role IN
                      ('operator', 'environment_staff', 'agency_admin', 'viewer', 'open_data')),
    tenant_id     text REFERENCES tenants (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    last_used_at  timestamptz,
    CHECK (role <> 'agency_admin' OR tenant_id IS NOT NULL)
);

-- Every write through the API: who, what, when, before and after.
CREATE TABLE audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor        text NOT NULL,
    role         text NOT NULL,
    action       text NOT NULL,
    resource     text NOT NULL,
    resource_id  text,
    before       jsonb,
    after        jsonb
);
CREATE INDEX audit_log_resource_idx ON audit_log (resource, resource_id, at DESC);
