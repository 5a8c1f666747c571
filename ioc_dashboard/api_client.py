"""The wall's only way to the data: the public HTTP API, never the database.

Keeping the wall an ordinary API client means it can run on a separate machine in the control
room and that every number it shows is one an operator could also fetch. The response models
mirror the API contract and ignore extra keys, so the API can grow without breaking the wall.
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Literal, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

# Seconds. Shorter than the default refresh interval (5 s) so a hung API shows up as an error
# on the next tick instead of piling requests up behind each other.
DEFAULT_TIMEOUT_S = 4.0

DeviceStatus = Literal["online", "offline", "never_seen"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class DeviceView(_Model):
    id: str
    kind: str
    tenant: str | None = None
    commune_code: str | None = None
    commune_name: str | None = None
    lat: float
    lon: float
    address: str | None = None
    status: DeviceStatus
    last_seen: datetime | None = None


class DeviceList(_Model):
    items: list[DeviceView]
    total: int


class TelemetryPoint(_Model):
    time: datetime
    value: float


class TelemetrySeries(_Model):
    device_id: str
    metric: str
    unit: str | None = None
    points: list[TelemetryPoint]


M = TypeVar("M", bound=_Model)


class WallDataError(Exception):
    """The API could not be read; carries the URL so the operator knows what to check."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(f"{message} ({url})")
        self.url = url


class WallApiClient:
    """Synchronous on purpose: Dash callbacks run in the server's worker threads."""

    def __init__(
        self, *, base_url: str, api_key: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Accept": "application/json"}
        if api_key:
            # The wall reads as a machine client with its own (viewer) key, not as a person.
            headers["X-API-Key"] = api_key
        self._http = httpx.Client(timeout=timeout_s, headers=headers)

    def devices(self) -> DeviceList:
        return self._get(f"{self.base_url}/devices", DeviceList, params={})

    def telemetry(
        self, device_id: str, *, metric: str, since: datetime, limit: int = 2000
    ) -> TelemetrySeries:
        url = f"{self.base_url}/devices/{quote(device_id, safe='')}/telemetry"
        params = {"metric": metric, "since": since.isoformat(), "limit": str(limit)}
        return self._get(url, TelemetrySeries, params=params)

    def _get(self, url: str, model: type[M], *, params: dict[str, str]) -> M:
        try:
            response = self._http.get(url, params=params)
        except httpx.HTTPError as exc:
            raise WallDataError(f"API unreachable: {type(exc).__name__}", url=url) from exc
        if response.status_code >= 400:
            raise WallDataError(f"API answered {response.status_code}", url=str(response.url))
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise WallDataError("API answer does not match the contract", url=url) from exc

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
