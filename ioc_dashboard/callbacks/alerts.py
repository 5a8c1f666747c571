"""The alert panel: a polled feed (every refresh tick), selection, role-gated actions, sound."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import dash
from dash import ALL, Input, Output, State, ctx, no_update

from ioc_dashboard import alerts_view
from ioc_dashboard import layout as ids
from ioc_dashboard.api_client import ApiProblemError, WallDataError
from ioc_dashboard.auth import ALERT_ROLES, language
from ioc_dashboard.i18n import texts

if TYPE_CHECKING:
    from ioc_dashboard.callbacks import WallContext

log = logging.getLogger(__name__)
OPEN_STATES = ("open", "acknowledged")

# Plays the locally served sound when a critical alert appears that was not ringing before,
# if the operator switched sound on (browsers allow audio after that click).
_PLAY_SOUND = """
function(ringing, sound) {
    const before = window.__iocRinging || [];
    window.__iocRinging = ringing || [];
    const fresh = (ringing || []).filter(id => !before.includes(id));
    if (fresh.length && sound && sound.includes('on')) {
        const audio = document.getElementById('AUDIO_ID');
        if (audio) { audio.currentTime = 0; audio.play().catch(() => {}); }
    }
    return fresh.length;
}
""".replace("AUDIO_ID", ids.AUDIO_ID)


def register(app: dash.Dash, wall: WallContext) -> None:
    @app.callback(
        Output(ids.ALERT_LIST_ID, "children"),
        Output(ids.RINGING_STORE, "data"),
        Output(ids.ALERTS_DRAWN_STORE, "data"),
        Input(ids.INTERVAL_ID, "n_intervals"),
        Input(ids.ALERT_SELECTED_STORE, "data"),
        Input(ids.ALERT_FEEDBACK_ID, "children"),
        State(ids.ALERTS_DRAWN_STORE, "data"),
    )
    def refresh_alerts(
        _tick: int, selected: int | None, _feedback: Any, drawn: str | None
    ) -> tuple[Any, ...]:
        labels = texts(language())
        api = wall.auth.api()
        try:
            found = [a for state in OPEN_STATES for a in api.alerts(state=state).items]
        except ApiProblemError as exc:
            if exc.status == 404:  # the alerts API (contract C4) is not deployed yet
                return [labels["alerts_unavailable"]], [], None
            return [f"{labels['api_error']}: {exc.detail}"], no_update, None
        except WallDataError as exc:
            log.warning("wall cannot read alerts: %s", exc)
            return no_update, no_update, no_update
        # Unchanged feed: leave the rows alone (new rows would also re-fire row callbacks).
        digest = alerts_view.digest(found, selected=selected, lang=language())
        if digest == drawn:
            return no_update, no_update, no_update
        rows = alerts_view.alert_rows(found, labels=labels, selected=selected)
        return rows, alerts_view.ringing(found), digest

    @app.callback(
        Output(ids.ALERT_SELECTED_STORE, "data"),
        Input({"type": alerts_view.ROW_TYPE, "index": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def select_alert(clicks: list[int | None]) -> Any:
        # Re-rendered rows start at n_clicks 0 and fire too; only a real click selects.
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not any(c for c in clicks if c):
            return no_update
        if not ctx.triggered or not ctx.triggered[0].get("value"):
            return no_update
        return trigger["index"]

    @app.callback(
        Output(ids.ALERT_FEEDBACK_ID, "children"),
        Output(ids.ALERT_NOTE_ID, "value"),
        *[Input(ids.action_id(a), "n_clicks") for a in ids.ALERT_ACTIONS],
        State(ids.ALERT_SELECTED_STORE, "data"),
        State(ids.ALERT_NOTE_ID, "value"),
        prevent_initial_call=True,
    )
    def act(*args: Any) -> tuple[Any, ...]:
        selected, note = args[-2], args[-1] or ""
        labels = texts(language())
        trigger = ctx.triggered_id
        if not wall.auth.may(ALERT_ROLES):
            return labels["not_allowed"], no_update
        if selected is None:
            return labels["select_alert"], no_update
        api = wall.auth.api()
        try:
            if trigger == ids.action_id("comment"):
                api.alert_comment(int(selected), note or "—")
            else:
                action = str(trigger).removeprefix("alert-")
                api.alert_action(int(selected), action, note)
        except ApiProblemError as exc:
            return f"#{selected}: {exc.detail}", no_update
        except WallDataError as exc:
            return f"{labels['api_error']}: {exc.url}", no_update
        return f"#{selected}: {labels['done']} ({labels[str(trigger).removeprefix('alert-')]})", ""

    app.clientside_callback(
        _PLAY_SOUND,
        Output(ids.AUDIO_ID, "title"),
        Input(ids.RINGING_STORE, "data"),
        State(ids.SOUND_TOGGLE_ID, "value"),
    )
