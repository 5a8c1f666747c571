"""The KPI tiles across the top of the wall, from one ``GET /wall/kpis`` answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import html

from ioc_dashboard.api_models import Tally, WallKpis
from ioc_dashboard.i18n import Language

SEVERITIES = ("critical", "warning", "advisory")


def _tile(
    tile_id: str, label: str, value: Any, detail: Any = None, *, colour: str | None = None,
    flash: bool = False,
) -> html.Div:  # fmt: skip
    return html.Div(
        id=tile_id,
        className="kpi flash" if flash else "kpi",
        children=[
            html.Div(label, className="kpi-label"),
            html.Div(value, className="kpi-value", style={"color": colour} if colour else None),
            html.Div(detail, className="kpi-detail") if detail is not None else None,
        ],
    )


def _breakdown(title: str, rows: Mapping[str, Tally], names: Mapping[str, str]) -> html.Details:
    """A fold-out table so the tile stays one number on the wall, details at a desk."""
    return html.Details(className="kpi-breakdown", children=[
        html.Summary(title),
        html.Table([html.Tr([html.Td(names.get(k, k)), html.Td(f"{t.online}/{t.total}")])
                    for k, t in rows.items()]),
    ])  # fmt: skip


def _number(value: float) -> str:
    """Thousands grouped with a thin space, readable in both languages."""
    return f"{value:,.0f}".replace(",", "\u202f")


def kpi_tiles(kpis: WallKpis, *, labels: Mapping[str, str], lang: Language) -> list[html.Div]:
    kind_names = {k.removeprefix("kind_"): v for k, v in labels.items() if k.startswith("kind_")}
    devices = kpis.devices
    alerts = kpis.alerts_open
    critical = alerts.get("critical", 0)
    aqi = kpis.aqi
    worst = ", ".join(f"{c.commune_name} {c.aqi}" for c in kpis.worst_communes[:3]) or "—"
    traffic = kpis.traffic
    usual = (
        f"{labels['kpi_usual']} {_number(traffic.usual_for_hour)} ({traffic.ratio:.0%})"
        if traffic.usual_for_hour and traffic.ratio is not None
        else f"{labels['kpi_usual']} —"
    )
    light = kpis.lighting
    energy = sum(light.energy_today_kwh.values())
    band = aqi.band
    advice = "" if band is None else (band.general.vi if lang == "vi" else band.general.en)
    return [
        _tile("kpi-devices", labels["kpi_devices"],
              f"{_number(devices.online)} / {_number(devices.total)}",
              [html.Span(f"{_number(devices.offline)} {labels['kpi_offline']}"),
               _breakdown(labels["by_kind"], kpis.by_kind, kind_names),
               _breakdown(labels["by_agency"], kpis.by_agency, {})]),
        _tile("kpi-alerts", labels["kpi_alerts"],
              [html.Span(str(alerts.get(s, 0)), className=f"sev-count sev-{s}",
                         title=labels[f"sev_{s}"]) for s in SEVERITIES],
              " · ".join(f"{labels[f'sev_{s}']}" for s in SEVERITIES),
              flash=critical > 0),
        _tile("kpi-aqi", labels["kpi_aqi"], "—" if aqi.aqi is None else str(aqi.aqi),
              html.Span(advice, title=advice),
              colour=band.hex if band else None),
        _tile("kpi-worst", labels["kpi_worst"], html.Span(worst, className="kpi-list")),
        _tile("kpi-traffic", labels["kpi_traffic"], _number(traffic.vehicles_last_hour), usual),
        _tile("kpi-lights", labels["kpi_lights"], f"{_number(light.on)} / {_number(light.lights)}",
              f"{_number(light.faulty)} {labels['kpi_faulty']}"),
        _tile("kpi-energy", labels["kpi_energy"], f"{energy:,.1f} kWh".replace(",", "\u202f")),
    ]  # fmt: skip
