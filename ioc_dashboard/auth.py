"""Signing in to the wall with the API's accounts; the token never reaches the browser.

The browser holds only a signed Flask session cookie with a random session id. The API's JWT
stays in this process (:class:`SessionStore`), so script on the page cannot read it and signing
out forgets it at once. A wall screen nobody signs in to reads with the deployment's viewer key
(``IOC_WALL_API_KEY``) and shows no buttons that change anything.

Roles come from the API (``GET /auth/me``); the wall only hides what a role may not do, the
API still decides.
"""

from __future__ import annotations

import html
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Final

import flask
from werkzeug.wrappers import Response

from ioc_dashboard.api_client import ApiProblemError, WallApiClient, WallDataError
from ioc_dashboard.i18n import DEFAULT_LANGUAGE, Language, texts

# Roles allowed to act on alerts, edit thresholds, send lighting commands (as the API grants).
ALERT_ROLES: Final = frozenset({"operator", "environment_staff", "agency_admin"})
THRESHOLD_ROLES: Final = frozenset({"operator", "environment_staff"})
COMMAND_ROLES: Final = frozenset({"operator", "agency_admin"})
_SID = "sid"
_LANG = "lang"


@dataclass(frozen=True, slots=True)
class UserSession:
    token: str
    name: str
    role: str
    tenant_id: str | None
    expires_at: float  # monotonic seconds


class SessionStore:
    """Tokens by session id, in memory: one wall server process, tokens of minutes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, UserSession] = {}

    def add(self, user: UserSession) -> str:
        sid = secrets.token_urlsafe(24)
        with self._lock:
            now = time.monotonic()
            self._items = {k: v for k, v in self._items.items() if v.expires_at > now}
            self._items[sid] = user
        return sid

    def get(self, sid: str | None) -> UserSession | None:
        if sid is None:
            return None
        with self._lock:
            user = self._items.get(sid)
            if user is not None and user.expires_at <= time.monotonic():
                del self._items[sid]
                return None
            return user

    def drop(self, sid: str | None) -> None:
        with self._lock:
            self._items.pop(sid or "", None)


def language() -> Language:
    lang = flask.session.get(_LANG) if flask.has_request_context() else None
    return "en" if lang == "en" else DEFAULT_LANGUAGE


class WallAuth:
    """The wall's sign-in routes, and who the current request is."""

    def __init__(self, client: WallApiClient, store: SessionStore | None = None) -> None:
        self.client = client
        self.store = store or SessionStore()

    def user(self) -> UserSession | None:
        return self.store.get(flask.session.get(_SID))

    def api(self) -> WallApiClient:
        """The client for this request: the user's token, else the wall's own key."""
        user = self.user()
        return self.client.as_user(user.token if user else None)

    def role(self) -> str | None:
        user = self.user()
        return user.role if user else None

    def may(self, roles: frozenset[str]) -> bool:
        return self.role() in roles

    def readable(self) -> bool:
        """Someone signed in, or an unattended wall with its viewer key."""
        return self.user() is not None or bool(self.client.api_key)

    def install(self, server: flask.Flask) -> None:
        server.add_url_rule("/login", "wall_login", self._login, methods=["GET", "POST"])
        server.add_url_rule("/logout", "wall_logout", self._logout, methods=["GET", "POST"])
        server.add_url_rule("/lang/<code>", "wall_lang", self._language)
        server.before_request(self._guard)

    def _guard(self) -> Response | None:
        path = flask.request.path
        if path.startswith(("/login", "/assets/", "/lang/", "/_dash-component-suites/")):
            return None
        if path.startswith("/_favicon") or self.readable():
            return None
        if path.startswith("/_dash-"):
            return Response("sign in first", status=401)
        return flask.redirect("/login")

    def _login(self) -> Response | str:
        labels = texts(language())
        error = ""
        if flask.request.method == "POST":
            username = flask.request.form.get("username", "").strip()
            password = flask.request.form.get("password", "")
            try:
                token = self.client.login(username, password)
                me = self.client.as_user(token.access_token).me()
            except ApiProblemError:
                error = labels["login_failed"]
            except WallDataError as exc:
                error = f"{labels['api_error']}: {exc.url}"
            else:
                user = UserSession(token=token.access_token, name=me.name, role=me.role,
                                   tenant_id=me.tenant_id,
                                   expires_at=time.monotonic() + token.expires_in - 30)  # fmt: skip
                self.store.drop(flask.session.get(_SID))
                flask.session[_SID] = self.store.add(user)
                return flask.redirect("/")
        return _login_page(error)

    def _logout(self) -> Response:
        self.store.drop(flask.session.pop(_SID, None))
        return flask.redirect("/login" if not self.client.api_key else "/")

    def _language(self, code: str) -> Response:
        flask.session[_LANG] = "en" if code == "en" else "vi"
        target = flask.request.args.get("next", "/")
        return flask.redirect(target if target in ("/", "/login") else "/")


def _login_page(error: str) -> str:
    """A plain form: it must work before any script loads, on any browser in the room."""
    t = texts(language())
    other = "en" if language() == "vi" else "vi"
    message = f'<p class="login-error" id="login-error">{html.escape(error)}</p>' if error else ""
    return f"""<!DOCTYPE html>
<html lang="{language()}"><head><meta charset="utf-8">
<title>{html.escape(t["title"])}</title>
<link rel="stylesheet" href="/assets/wall.css"></head>
<body class="login-body"><main class="login-box">
<h1>{html.escape(t["title"])}</h1>
<form method="post" action="/login">
<label for="username">{html.escape(t["username"])}</label>
<input id="username" name="username" autocomplete="username" required>
<label for="password">{html.escape(t["password"])}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button id="login-submit" type="submit">{html.escape(t["sign_in"])}</button>
</form>{message}
<a class="lang-link" id="login-lang" href="/lang/{other}?next=/login">{t["other_language"]}</a>
</main></body></html>"""
