-- Registry: retirement instead of deletion for devices that have reported, tag look-ups.

-- Telemetry names a device by devices.key with no foreign key (it keeps ingest fast), so a
-- device that has reported is never deleted: it is retired, and its readings keep their name.
ALTER TABLE devices ADD COLUMN retired_at timestamptz;

-- `GET /devices?tag=...` is `tags @> ARRAY[tag]`, which a GIN index answers.
CREATE INDEX devices_tags_idx ON devices USING gin (tags);

-- attributes holds keyed documents (the registry writes "levels"); other shapes are a bug.
ALTER TABLE devices ADD CONSTRAINT devices_attributes_object
    CHECK (jsonb_typeof(attributes) = 'object');
