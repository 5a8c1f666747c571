"""The token bucket's arithmetic, with an explicit clock (no sleeping)."""

from __future__ import annotations

import pytest

from ioc_api.ratelimit import Limit, TokenBuckets


def test_burst_then_refill_at_the_rate():
    buckets, limit = TokenBuckets(), Limit(rate=2.0, burst=3)
    assert [buckets.take("k", limit, now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("k", limit, now=0.0) == pytest.approx(0.5)  # one token takes 0.5 s
    assert buckets.take("k", limit, now=0.5) == 0.0
    assert buckets.take("other", limit, now=0.5) == 0.0  # buckets are per key


def test_a_long_pause_refills_only_up_to_the_burst():
    buckets, limit = TokenBuckets(), Limit(rate=10.0, burst=2)
    buckets.take("k", limit, now=0.0)
    taken = [buckets.take("k", limit, now=100.0) for _ in range(3)]
    assert taken[:2] == [0.0, 0.0] and taken[2] > 0
