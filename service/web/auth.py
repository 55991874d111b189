"""Sign-in enforced on every request: who is asking, what the route declared, CSRF, the patient key.

One ``before_request`` (:func:`authorize`) reads the role the endpoint declared
(:func:`service.access.requires`) and the request's credentials:

- ``Authorization: Bearer <token>``: an API token (:mod:`service.access.tokens`),
  on every route, pages too. A request that carries the header is judged by it
  alone (never by a session cookie beside it), and is exempt from CSRF: a
  browser cannot add that header to a forged cross-site request.
- otherwise the session cookie of a browser signed in on ``/login`` (Flask-Login).

No credentials on a route that needs some: 401 (a redirect to ``/login`` for a
page); a role missing: 403 naming it; a user who must change their password
is sent to ``/account/password`` first. Every state-changing request that is
not a token's (``POST``, ``PUT``, ``PATCH``, ``DELETE``) must carry the form's
CSRF token (Flask-WTF), the sign-in form included. Endpoints without a
declaration are refused (the static files excepted), so a route added without
one fails closed. :func:`request_client` names the user for the event log.
"""

from __future__ import annotations

import sys
import threading
from datetime import timedelta
from typing import Any

from flask import Flask, Response, before_render_template, current_app, g, redirect, request, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFProtect
from itsdangerous import URLSafeTimedSerializer

from service.access import declared_role, roles_for
from service.access import tokens as api_tokens
from service.access.accounts import Identity, identity_of
from service.access.bootstrap import first_start, secret_key
from service.access.redact import PID_ARGUMENTS, redact
from service.access.signin import note_bad_token
from service.errors import AccessDenied, NotSignedIn
from service.web.context import get_store
from service.web.errors import wants_json

#: endpoints open to anyone that declare nothing: Flask's own static files (styles, scripts)
STATIC = frozenset({"static", "pages.static"})
#: open endpoints that answer within their own deadline whatever the database does, so never wait on
#: accounts (the first start, a token's look-up): /healthz (DOSELEDGER_HEALTH_TIMEOUT)
UNCHECKED = frozenset({"api.healthz"})
#: where a user who must change their password may still go
PASSWORD_ENDPOINTS = frozenset({"account.password", "account.logout", "account.login"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
#: what Flask itself puts in every template's context (not data of the page)
FLASK_CONTEXT = frozenset({"config", "request", "session", "g"})

login_manager = LoginManager()
csrf = CSRFProtect()
_key_lock = threading.Lock()


class SessionUser(UserMixin):
    """A user signed in with a session cookie; the id changes with every password change."""

    def __init__(self, user: dict[str, Any]) -> None:
        self.user = user

    def get_id(self) -> str:
        """Return ``name:session_version``: a password change or disabling ends older sessions."""
        return f"{self.user['name']}:{self.user.get('session_version', 0)}"


@login_manager.user_loader
def _load_user(user_id: str) -> SessionUser | None:
    """Return the session's user unless it was disabled or its password changed since."""
    name, _, version = user_id.rpartition(":")
    user = get_store().find_user(name)
    if user is None or user.get("disabled") or str(user.get("session_version", 0)) != version:
        return None
    return SessionUser(user)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the secret read (or made) on first use rather than at start."""

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        """Return the serializer, loading the secret key from the settings or the state folder once."""
        if not app.secret_key:
            with _key_lock:
                if not app.secret_key:
                    app.secret_key = secret_key(app.config["DOSELEDGER_SETTINGS"])
        return super().get_signing_serializer(app)


def current_identity() -> Identity | None:
    """Return who is making the current request, or ``None`` for no one."""
    identity: Identity | None = g.get("identity")
    return identity


def request_client() -> str:
    """Return the event log's ``client`` for this request: ``alice@10.1.2.3``, or the address alone."""
    address = request.remote_addr or ""
    identity = current_identity()
    return identity.client(address) if identity else address


def may_see_patient_key() -> bool:
    """Tell whether the current request's user holds ``pid``."""
    identity = current_identity()
    return identity is not None and "pid" in identity.roles


def authorize() -> Response | None:
    """Refuse the request unless its credentials hold what the endpoint declared (see the module)."""
    if request.endpoint is None or request.endpoint in STATIC or request.endpoint in UNCHECKED:
        return None  # routing failed (404, 405: the error handler answers), a static file, or the health check
    _first_start()
    view = current_app.view_functions[request.endpoint]
    try:
        declared = declared_role(view)
    except LookupError as e:
        raise AccessDenied(f"Refused: {e}.") from None
    g.identity = identity = _identify(open_route=declared is None)
    if declared is not None:
        if identity is None:
            return _sign_in_first()
        if identity.must_change_password and request.endpoint not in PASSWORD_ENDPOINTS:
            return _change_password_first()
        _check_roles(identity, roles_for(view, request.args))
    if request.method not in SAFE_METHODS and (identity is None or identity.token is None):
        csrf.protect()
    return None


def _first_start() -> None:
    """Once per process, make the first administrator if there is no user (under gunicorn, say)."""
    state = current_app.extensions["doseledger"]
    if not state.get("first_start_checked"):
        message = first_start(get_store(), current_app.config["DOSELEDGER_SETTINGS"])
        if message:
            print(message, file=sys.stderr, flush=True)
        state["first_start_checked"] = True


def _identify(*, open_route: bool) -> Identity | None:
    """Return the identity of the request's token or session; raise for a bad token on a closed route."""
    header = request.headers.get("Authorization")
    if header is None:
        return identity_of(current_user.user) if current_user.is_authenticated else None
    scheme, _, secret = header.partition(" ")
    identity = api_tokens.identify(get_store(), secret.strip()) if scheme.lower() == "bearer" else None
    if identity is None and not open_route:
        if scheme.lower() != "bearer":
            raise NotSignedIn(f"Send an API token as 'Authorization: Bearer <token>', not a {scheme} header.")
        note_bad_token(get_store(), request.remote_addr or "")
        raise NotSignedIn("The API token is unknown or revoked, or its user is disabled.")
    return identity


def _check_roles(identity: Identity, needed: list[str]) -> None:
    """Raise :class:`AccessDenied` naming the first role ``identity`` lacks."""
    needed = needed + ["pid" for name in PID_ARGUMENTS if name in request.args and "pid" not in needed]
    for role in needed:
        if role not in identity.roles:
            held = ", ".join(sorted(identity.roles)) or "no role"
            raise AccessDenied(f"This needs the role '{role}'; {identity.who} holds {held}.")


def _sign_in_first() -> Response:
    """Send a browser to the sign-in page; tell an API client 401."""
    if wants_json():
        raise NotSignedIn("Sign in first: send 'Authorization: Bearer <token>' (or use a signed-in browser).")
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("account.login", next=target), 303)


def _change_password_first() -> Response:
    """Send a user whose password was set by someone else to the password page."""
    if wants_json():
        raise AccessDenied("Change your password first, at /account/password.")
    return redirect(url_for("account.password"), 303)


def _redact_template_context(sender: Flask, template: Any, context: dict[str, Any], **extra: Any) -> None:
    """Remove the patient key from what a page is given unless the user holds ``pid``."""
    if not may_see_patient_key():
        redact([value for name, value in context.items() if name not in FLASK_CONTEXT])


def init_app(app: Flask) -> None:
    """Set up sessions, Flask-Login, CSRF and the per-request check on ``app``."""
    settings = app.config["DOSELEDGER_SETTINGS"]
    app.session_interface = SessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME="doseledger_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        WTF_CSRF_CHECK_DEFAULT=False,  # authorize() decides: token requests are exempt
        WTF_CSRF_TIME_LIMIT=None,  # a token lives as long as its session
    )
    login_manager.init_app(app)
    csrf.init_app(app)
    app.before_request(authorize)
    app.context_processor(lambda: {"identity": current_identity()})
    before_render_template.connect(_redact_template_context, app)
