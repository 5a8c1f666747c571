"""The threshold editor: pick a rule, edit, preview against the last 7 days, save."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dash
from dash import Input, Output, State, ctx, no_update

from ioc_dashboard import layout as ids
from ioc_dashboard import threshold_form as form
from ioc_dashboard.api_client import ApiProblemError, WallDataError
from ioc_dashboard.auth import THRESHOLD_ROLES, language
from ioc_dashboard.i18n import texts

if TYPE_CHECKING:
    from ioc_dashboard.callbacks import WallContext

_VALUES = [State(ids.field_id(f), "value") for f in form.FIELDS]
_ERRORS = [Output(ids.error_id(f), "children") for f in form.FIELDS]


def _form_dict(values: tuple[Any, ...]) -> dict[str, Any]:
    found = dict(zip(form.FIELDS, values, strict=True))
    found["enabled"] = bool(found.get("enabled"))  # the checklist's ["on"] or []
    return found


def register(app: dash.Dash, wall: WallContext) -> None:
    @app.callback(
        Output(ids.RULE_SELECT_ID, "options"),
        Input(ids.TAB_BAR_ID, "value"),
    )
    def rule_options(tab: str) -> Any:
        if tab != "thresholds":
            return no_update
        try:
            return form.rule_options(wall.auth.api().thresholds())
        except WallDataError:
            return []

    @app.callback(
        *[Output(ids.field_id(f), "value") for f in form.FIELDS],
        Input(ids.RULE_SELECT_ID, "value"),
        prevent_initial_call=True,
    )
    def load_rule(rule_id: int | None) -> Any:
        if rule_id is None:
            return (no_update,) * len(form.FIELDS)
        rules = {r.id: r for r in wall.auth.api().thresholds()}
        values = form.form_values(rules[int(rule_id)])
        values["enabled"] = ["on"] if values["enabled"] else []
        return tuple(values[f] for f in form.FIELDS)

    @app.callback(
        Output(ids.PREVIEW_RESULT_ID, "children"),
        Output(ids.THRESHOLD_FEEDBACK_ID, "children"),
        *_ERRORS,
        Input(ids.PREVIEW_ID, "n_clicks"),
        Input(ids.SAVE_ID, "n_clicks"),
        State(ids.RULE_SELECT_ID, "value"),
        *_VALUES,
        prevent_initial_call=True,
    )
    def preview_or_save(_p: int, _s: int, rule_id: int | None, *values: Any) -> tuple[Any, ...]:
        labels = texts(language())
        clear = ("",) * len(form.FIELDS)
        if not wall.auth.may(THRESHOLD_ROLES):
            return no_update, labels["not_allowed"], *clear
        if rule_id is None:
            return no_update, labels["rule"], *clear
        api = wall.auth.api()
        rule = {r.id: r for r in api.thresholds()}[int(rule_id)]
        patch = form.patch_from_form(rule, _form_dict(values))
        try:
            if ctx.triggered_id == ids.SAVE_ID:
                saved = api.threshold_update(rule.id, patch)
                return no_update, f"{labels['saved']} {saved.version}", *clear
            preview = api.threshold_preview(form.preview_body(rule, patch))
        except ApiProblemError as exc:
            if exc.status == 404 and ctx.triggered_id == ids.PREVIEW_ID:
                return labels["preview_unavailable"], exc.detail, *clear
            errors = form.field_errors(exc.errors)
            return (no_update, exc.detail, *(errors.get(f, "") for f in form.FIELDS))
        except WallDataError as exc:
            return no_update, f"{labels['api_error']}: {exc.url}", *clear
        text = labels["preview_result"].format(days=preview.days, alerts=preview.alerts,
                                               devices=preview.devices)  # fmt: skip
        by = " · ".join(f"{labels[f'sev_{s}']}: {n}" for s, n in preview.by_severity.items()
                        if f"sev_{s}" in labels)  # fmt: skip
        return [text, " — ", by] if by else text, "", *clear
