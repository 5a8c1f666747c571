"""Name patterns shared by payloads and profiles, kept apart so neither imports the other."""

from __future__ import annotations

import re

# Metric and kind names become SQL-visible labels, JSON keys and Prometheus-style series names;
# lowercase snake case up to 48 characters fits all three without quoting.
METRIC_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,47}$"
METRIC_NAME_RE = re.compile(METRIC_NAME_PATTERN)
