"""Forecast errors: what is wrong with the input, named precisely enough to fix it."""

from __future__ import annotations

from ioc_core.errors import IocError


class ForecastError(IocError):
    """Base of the forecast package's errors."""


class ForecastInputError(ForecastError):
    """A series or file that cannot be forecast from (too short, no such metric, bad row)."""
