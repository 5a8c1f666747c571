"""``ioc bench ingest``: the whole ingest path measured on this machine, with its baselines."""
