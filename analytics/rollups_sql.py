"""The two upserts behind the rollups, kept apart from the control flow in ``rollups.py``.

Both take a half-open range [start, end) and first widen start down to their bucket boundary,
so a bucket is always recomputed whole. ``WHERE ... IS DISTINCT FROM`` skips rows that did not
change: the row count then says what was really written, and an idle refresh creates no dead
tuples.

1h is computed from 1m, not from raw telemetry: 60 times fewer rows to read, and exact, because
min, max, sum, count and (last, last_time) all compose. It runs after 1m in the same transaction,
so it always sees the 1m buckets just written.
"""

from __future__ import annotations

from typing import LiteralString

_CONFLICT = """
ON CONFLICT (device_key, metric_id, bucket) DO UPDATE SET
    min = excluded.min, max = excluded.max, sum = excluded.sum, count = excluded.count,
    last = excluded.last, last_time = excluded.last_time
WHERE (r.min, r.max, r.sum, r.count, r.last, r.last_time)
      IS DISTINCT FROM
      (excluded.min, excluded.max, excluded.sum, excluded.count, excluded.last, excluded.last_time)
"""

UPSERT_1M: LiteralString = (
    """
INSERT INTO telemetry_1m AS r (bucket, device_key, metric_id, min, max, sum, count, last, last_time)
SELECT time_bucket('1 minute', time), device_key, metric_id,
       min(value), max(value), sum(value), count(*), last(value, time), max(time)
FROM telemetry
WHERE time >= time_bucket('1 minute', %(start)s::timestamptz) AND time < %(end)s
GROUP BY 1, 2, 3
"""
    + _CONFLICT
)

UPSERT_1H: LiteralString = (
    """
INSERT INTO telemetry_1h AS r (bucket, device_key, metric_id, min, max, sum, count, last, last_time)
SELECT time_bucket('1 hour', bucket), device_key, metric_id,
       min(min), max(max), sum(sum), sum(count), last(last, last_time), max(last_time)
FROM telemetry_1m
WHERE bucket >= time_bucket('1 hour', %(start)s::timestamptz) AND bucket < %(end)s
GROUP BY 1, 2, 3
"""
    + _CONFLICT
)
