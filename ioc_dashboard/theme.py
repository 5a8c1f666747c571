"""Colours and type of the wall, shared by the figures; the page's CSS uses the same palette.

Dark background because the wall runs all day in a dimmed control room; status colours are
chosen to stay apart for the common forms of colour blindness (green against greys, not red).
"""

from __future__ import annotations

from collections.abc import Mapping

BACKGROUND = "#0b1622"
PANEL = "#111f2e"
TEXT = "#e6edf3"
GRID = "#22364a"
STATUS_COLOURS: Mapping[str, str] = {
    "online": "#2ecc71",
    "offline": "#8a949e",
    "never_seen": "#d5d8dc",
}
SELECTED_COLOUR = "#f5c542"
SERIES_COLOUR = "#4fc3f7"
UNIT_LABELS: Mapping[str, str] = {"ug/m3": "µg/m³", "mg/m3": "mg/m³", "degC": "°C", "C": "°C"}
FONT_FAMILY = "system-ui, 'Segoe UI', Roboto, 'Noto Sans', Arial, sans-serif"
# Same hues as the API's alert layer (ioc_api.routes.wall), so map, panel and charts agree.
SEVERITY_COLOURS: Mapping[str, str] = {
    "advisory": "#f1c40f",
    "warning": "#ff8c1a",
    "critical": "#ff3b30",
}
TRAFFIC_COLOURS: Mapping[str, str] = {
    "motorbike": "#4fc3f7",
    "car": "#b39ddb",
    "bus_truck": "#ffb74d",
    "bicycle": "#81c784",
}
