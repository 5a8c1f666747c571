"""The timestamp window and size limit device makers are promised."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devices import (
    MAX_FUTURE_SKEW,
    MAX_PAST_AGE,
    MAX_PAYLOAD_BYTES,
    PayloadError,
    check_timestamp_window,
)

NOW = datetime(2025, 11, 26, 10, tzinfo=UTC)


def test_documented_defaults() -> None:
    assert MAX_PAYLOAD_BYTES == 16_384
    assert timedelta(minutes=5) == MAX_FUTURE_SKEW
    assert timedelta(days=7) == MAX_PAST_AGE


@pytest.mark.parametrize("offset", [timedelta(0), MAX_FUTURE_SKEW, -MAX_PAST_AGE])
def test_edges_of_the_window_are_accepted(offset: timedelta) -> None:
    check_timestamp_window(NOW + offset, now=NOW)


@pytest.mark.parametrize(
    ("offset", "reason"),
    [
        (MAX_FUTURE_SKEW + timedelta(seconds=1), "ts_in_future"),
        (-MAX_PAST_AGE - timedelta(seconds=1), "ts_too_old"),
    ],
)
def test_outside_the_window_is_rejected(offset: timedelta, reason: str) -> None:
    with pytest.raises(PayloadError) as caught:
        check_timestamp_window(NOW + offset, now=NOW)
    assert caught.value.reason == reason


def test_the_window_can_be_configured() -> None:
    with pytest.raises(PayloadError):
        check_timestamp_window(NOW + timedelta(seconds=2), now=NOW, max_future=timedelta(0))
