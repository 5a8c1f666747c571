-- FIWARE IoT Agent JSON service groups: what an API key in /json/{apikey}/{device}/attrs means.

-- The API key is a topic level, so it may not contain '/', '+', '#' or spaces; 8 characters at
-- least so a key cannot be guessed in a few tries. The group fixes the tenant and the device
-- kind, and maps the device's attribute names (object_id) to our metric names.
CREATE TABLE iota_service_groups (
    apikey      text PRIMARY KEY CHECK (apikey ~ '^[A-Za-z0-9._~-]{8,128}$'),
    tenant_id   text NOT NULL REFERENCES tenants (id),
    kind        text NOT NULL,
    attributes  jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX iota_service_groups_tenant_idx ON iota_service_groups (tenant_id);
