"""MQTT -> TimescaleDB ingest: validate every message, store readings idempotently in batches,
acknowledge QoS 1 only after the commit, and park whatever is rejected as a dead letter."""
