"""Payload formats ingest understands, each on its own topics, all decoding into the same rows."""
