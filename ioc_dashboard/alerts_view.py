"""The alert feed: newest and most severe first; unacknowledged critical alerts flash."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from dash import html

from ioc_dashboard.api_models import Alert
from ioc_dashboard.selection import local_time_text

ROW_TYPE = "alert-row"
_RANK = {"critical": 0, "warning": 1, "advisory": 2}
MAX_ROWS = 60


def ordered(alerts: Sequence[Alert]) -> list[Alert]:
    """Unacknowledged before acknowledged, then by severity, then newest first."""
    return sorted(
        alerts,
        key=lambda a: (a.state != "open", _RANK.get(a.severity, 3), -a.opened_at.timestamp()),
    )[:MAX_ROWS]


def ringing(alerts: Sequence[Alert]) -> list[int]:
    """Ids of the alerts that call for attention: critical and not yet acknowledged."""
    return sorted(a.id for a in alerts if a.severity == "critical" and a.state == "open")


def digest(alerts: Sequence[Alert], *, selected: int | None, lang: str) -> str:
    """A short digest of the feed as shown (rows, order, states, selection, language)."""
    text = "|".join(a.model_dump_json() for a in ordered(alerts)) + f"|{selected}|{lang}"
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def alert_rows(
    alerts: Sequence[Alert], *, labels: Mapping[str, str], selected: int | None
) -> list[html.Div]:
    if not alerts:
        return [html.Div(labels["no_alerts"], className="alert-empty")]
    rows = []
    for alert in ordered(alerts):
        classes = ["alert-row", f"sev-{alert.severity}", f"state-{alert.state}"]
        if alert.severity == "critical" and alert.state == "open":
            classes.append("flash")
        if alert.id == selected:
            classes.append("selected")
        where = " · ".join(x for x in (alert.device_id, alert.commune_code) if x)
        rows.append(html.Div(
            id={"type": ROW_TYPE, "index": alert.id}, className=" ".join(classes), n_clicks=0,
            children=[
                html.Span(labels[f"sev_{alert.severity}"], className="alert-sev"),
                html.Div(className="alert-text", children=[
                    html.Div(alert.title, className="alert-title"),
                    html.Div(f"#{alert.id} · {where} · "
                             f"{local_time_text(alert.opened_at, labels)}",
                             className="alert-meta"),
                ]),
                html.Span(labels.get(f"state_{alert.state}", alert.state),
                          className="alert-state", title=alert.state),
            ],
        ))  # fmt: skip
    return rows
