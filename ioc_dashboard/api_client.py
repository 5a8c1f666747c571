"""The wall's only way to the data: the public HTTP API, never the database.

Keeping the wall an ordinary API client means it can run on a separate machine in the control
room and that every number it shows is one an operator could also fetch. A signed-in person's
calls carry their own token (so the API's roles decide what they may do); an unattended wall
screen reads with the deployment's viewer key.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from ioc_dashboard.api_models import (
    AlertPage,
    CabinetState,
    CameraTraffic,
    Command,
    CommuneAqi,
    DeviceList,
    DeviceView,
    Forecast,
    GaugeLevel,
    Layer,
    Me,
    Preview,
    TelemetrySeries,
    ThresholdRule,
    Token,
    WallKpis,
    WallMap,
)

# Seconds. Shorter than the refresh interval so a hung API shows up as an error on the next
# tick instead of piling requests up behind each other.
DEFAULT_TIMEOUT_S = 4.0

M = TypeVar("M")


@cache
def _adapter(model: Any) -> TypeAdapter[Any]:
    """Building a TypeAdapter costs milliseconds; each list type is built once per process."""
    return TypeAdapter(model)


class WallDataError(Exception):
    """The API could not be read; carries the URL so the operator knows what to check."""

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(f"{message} ({url})")
        self.url = url
        self.status = status


class ApiProblemError(WallDataError):
    """The API refused (4xx problem+json); ``errors`` keep the field paths it named."""

    def __init__(self, *, url: str, status: int, body: dict[str, Any]) -> None:
        detail = str(body.get("detail") or body.get("title") or f"HTTP {status}")
        super().__init__(detail, url=url, status=status)
        self.detail = detail
        self.errors: list[dict[str, str]] = [
            {"path": str(e.get("path", "")), "message": str(e.get("message", ""))}
            for e in body.get("errors", [])
            if isinstance(e, dict)
        ]


class WallApiClient:
    """Synchronous on purpose: Dash callbacks run in the server's worker threads.

    One ``httpx.Client`` (its connection pool) is shared by every per-user view made with
    :meth:`as_user`, so signing in does not open new connections.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        _http: httpx.Client | None = None,
        _auth: dict[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self._http = _http or httpx.Client(
            timeout=timeout_s, headers={"Accept": "application/json"}
        )
        self._auth = _auth if _auth is not None else ({"X-API-Key": api_key} if api_key else {})

    def as_user(self, token: str | None) -> WallApiClient:
        """The same connection pool, calling as the holder of ``token`` (or with the wall's key
        when there is no token)."""
        auth = {"Authorization": f"Bearer {token}"} if token else None
        return WallApiClient(base_url=self.base_url, api_key=self.api_key, _http=self._http,
                             _auth=auth)  # fmt: skip

    # --- session ------------------------------------------------------------------------
    def login(self, username: str, password: str) -> Token:
        url = f"{self.base_url}/auth/token"
        response = self._send("POST", url, data={"username": username, "password": password})
        return self._parse(response, Token, url)

    def me(self) -> Me:
        return self._get("/auth/me", Me)

    # --- devices and telemetry --------------------------------------------------------------
    def devices(self) -> DeviceList:
        return self._get("/devices", DeviceList)

    def device(self, device_id: str) -> DeviceView:
        return self._get(f"/devices/{quote(device_id, safe='')}", DeviceView)

    def telemetry(
        self, device_id: str, *, metric: str, since: datetime, limit: int = 2000
    ) -> TelemetrySeries:
        path = f"/devices/{quote(device_id, safe='')}/telemetry"
        params = {"metric": metric, "since": since.isoformat(), "limit": str(limit)}
        return self._get(path, TelemetrySeries, params=params)

    def send_command(self, device_id: str, name: str, args: dict[str, Any]) -> Command:
        path = f"/devices/{quote(device_id, safe='')}/commands"
        return self._post(path, Command, {"name": name, "args": args})

    # --- the wall's own reads -----------------------------------------------------------------
    def wall_map(
        self, *, layer: Layer, bbox: tuple[float, float, float, float] | None = None
    ) -> WallMap:
        params: dict[str, str] = {"layer": str(layer)}
        if bbox is not None:
            params["bbox"] = ",".join(f"{v:.5f}" for v in bbox)
        return self._get("/wall/map", WallMap, params=params)

    def kpis(self) -> WallKpis:
        return self._get("/wall/kpis", WallKpis)

    def traffic(self, limit: int = 15) -> list[CameraTraffic]:
        return self._get("/wall/traffic", list[CameraTraffic], params={"limit": str(limit)})

    def gauges(self) -> list[GaugeLevel]:
        return self._get("/wall/gauges", list[GaugeLevel])

    def cabinets(self) -> list[CabinetState]:
        return self._get("/wall/cabinets", list[CabinetState])

    def aqi_communes(self) -> list[CommuneAqi]:
        return self._get("/aqi/communes", list[CommuneAqi])

    # --- alerts (contract C4) -------------------------------------------------------------------
    def alerts(self, *, state: str, limit: int = 50) -> AlertPage:
        return self._get("/alerts", AlertPage, params={"state": state, "limit": str(limit)})

    def alert_action(self, alert_id: int, action: str, note: str = "") -> dict[str, Any]:
        if action not in ("acknowledge", "resolve", "close"):
            raise ValueError(f"unknown alert action {action!r}")
        return self._post(f"/alerts/{alert_id}/{action}", dict[str, Any], {"note": note})

    def alert_comment(self, alert_id: int, text: str) -> dict[str, Any]:
        return self._post(f"/alerts/{alert_id}/comments", dict[str, Any], {"text": text})

    # --- thresholds (and C4's preview) and forecasts (C5) --------------------------------------
    def thresholds(self, **filters: str) -> list[ThresholdRule]:
        return self._get("/thresholds", list[ThresholdRule], params=filters)

    def threshold_preview(self, rule: dict[str, Any]) -> Preview:
        return self._post("/thresholds/preview", Preview, rule)

    def threshold_update(self, rule_id: int, patch: dict[str, Any]) -> ThresholdRule:
        url = f"{self.base_url}/thresholds/{rule_id}"
        return self._parse(self._send("PATCH", url, json=patch), ThresholdRule, url)

    def forecast(self, device_id: str, metric: str) -> Forecast:
        return self._get("/forecasts", Forecast, params={"device_id": device_id, "metric": metric})

    # --- plumbing -----------------------------------------------------------------------------
    def _get(self, path: str, model: Any, *, params: dict[str, str] | None = None) -> Any:
        url = f"{self.base_url}{path}"
        return self._parse(self._send("GET", url, params=params or {}), model, url)

    def _post(self, path: str, model: Any, body: dict[str, Any]) -> Any:
        url = f"{self.base_url}{path}"
        return self._parse(self._send("POST", url, json=body), model, url)

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, url, headers=self._auth, **kwargs)
        except httpx.HTTPError as exc:
            raise WallDataError(f"API unreachable: {type(exc).__name__}", url=url) from exc

    @staticmethod
    def _parse(response: httpx.Response, model: Any, url: str) -> Any:
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            if isinstance(body, dict) and 400 <= response.status_code < 500:
                raise ApiProblemError(url=url, status=response.status_code, body=body)
            raise WallDataError(
                f"API answered {response.status_code}", url=url, status=response.status_code
            )
        try:
            if isinstance(model, type) and issubclass(model, BaseModel):
                return model.model_validate_json(response.content)
            return _adapter(model).validate_json(response.content)
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
