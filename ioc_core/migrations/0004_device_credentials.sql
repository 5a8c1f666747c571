-- Broker credentials: per-device MQTT accounts, backend service accounts, client certificates.
-- The broker's password and ACL files are generated from these rows (devices/broker_auth.py),
-- so they can be rebuilt at any time; plaintext passwords are never stored.

-- One account per device; its username is its MQTT identity (and a client certificate's CN).
-- password_hash is our own (scrypt) for anything that verifies a device password outside the
-- broker; broker_hash is Mosquitto's PBKDF2-SHA512 `$7$` line, made from the same plaintext when
-- it was issued, since the plaintext exists only at that moment.
CREATE TABLE device_credentials (
    device_id      text PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    username       text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    password_hash  text NOT NULL CHECK (password_hash LIKE 'scrypt$%'),
    broker_hash    text NOT NULL CHECK (broker_hash LIKE '$7$%'),
    created_at     timestamptz NOT NULL DEFAULT now(),
    rotated_at     timestamptz,
    revoked_at     timestamptz
);

-- Backend accounts (ingest, API, the shared backend account). Their passwords come from
-- settings; the broker hash is kept here so a process that does not hold a service password
-- (an operator's CLI) can still regenerate the files without dropping that account.
CREATE TABLE broker_service_accounts (
    role         text PRIMARY KEY CHECK (role IN ('backend', 'ingest', 'api')),
    username     text NOT NULL UNIQUE CHECK (username !~ '[:\s#+/]' AND username <> ''),
    broker_hash  text NOT NULL CHECK (broker_hash LIKE '$7$%'),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Client certificates issued by the project CA, by serial (hex, as in CRLs), so a revocation
-- can list them in the CRL the broker checks on its mutual-TLS listener.
CREATE TABLE device_certificates (
    serial      text PRIMARY KEY CHECK (serial ~ '^[0-9a-f]+$'),
    device_id   text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    username    text NOT NULL,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    not_after   timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX device_certificates_device_idx ON device_certificates (device_id);

-- Everyone the broker should let in: active device accounts with the topics they own, and the
-- service accounts. A username appearing twice is refused when the files are rendered.
CREATE VIEW broker_accounts AS
    SELECT c.username, c.broker_hash, 'device'::text AS role, d.tenant_id, d.id AS device_id
    FROM device_credentials c JOIN devices d ON d.id = c.device_id
    WHERE c.revoked_at IS NULL
    UNION ALL
    SELECT s.username, s.broker_hash, s.role, NULL, NULL
    FROM broker_service_accounts s;
