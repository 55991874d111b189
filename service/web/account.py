"""Signing in and out, and changing one's own password: ``/login``, ``/logout``, ``/account/password``.

Plain HTML forms, each with its CSRF token. A sign-in that works starts a
session (Flask-Login; the cookie is HttpOnly, SameSite=Lax, Secure behind TLS,
and ends after ``DOSELEDGER_SESSION_HOURS``) and goes on to the page asked for;
a user whose password was set by someone else goes to the password page first.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user

from service.access import SIGNED_IN, requires
from service.access.accounts import Actor, change_password
from service.access.bootstrap import forget_first_password
from service.access.signin import sign_in
from service.errors import InvalidArgument, NotSignedIn, TooManyAttempts
from service.web.apidoc import FORM, HTML, SEE_OTHER, documented, form
from service.web.arguments import single_values
from service.web.auth import SessionUser, current_identity, request_client
from service.web.context import get_settings, get_store

bp = Blueprint("account", __name__)

_TEXT = {"type": "string"}
_NEXT = {"type": "string", "description": "The page to go to afterwards (a path on this site)"}


def _no_store(response: Response) -> Response:
    """Keep pages with credentials or secrets out of caches."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _safe_next(target: str | None) -> str:
    """Return ``target`` if it is a path on this site (never another site: an open redirect), else home."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("pages.home")


@bp.route("/login", methods=["GET", "POST"])
@requires(None)
@documented(
    "account",
    query=({"name": "next", "schema": _NEXT},),
    body={FORM: form("name", "password", name=_TEXT, password=_TEXT, next=_NEXT)},
    answers={
        200: ("The sign-in form (again, with the reason, after a failed sign-in).", HTML),
        303: SEE_OTHER,
        429: ("Too many failed sign-ins from this address: the form with the reason, and Retry-After.", HTML),
    },
    errors={400: "The form's CSRF token is missing or wrong."},
)
def login() -> Response:
    """Show the sign-in form; on POST check the name and password and start a session."""
    form = single_values(request.form) if request.method == "POST" else {}
    target = form.get("next") or request.args.get("next")
    if request.method == "GET":
        return _no_store(Response(render_template("login.html", next=target, error=None)))
    name, password = form.get("name", ""), form.get("password", "")
    try:
        if not name.strip() or not password:
            raise NotSignedIn("Give your user name and your password.")
        identity = sign_in(get_store(), get_settings(), name, password, request.remote_addr or "")
    except (NotSignedIn, TooManyAttempts) as e:
        # the form again with the reason: 200 (a form's answer, not HTTP authentication), 429 when slowed
        page = render_template("login.html", next=target, error=str(e), name=name)
        response = _no_store(Response(page, status=429 if isinstance(e, TooManyAttempts) else 200))
        if isinstance(e, TooManyAttempts):
            response.headers["Retry-After"] = str(e.retry_after)
        return response
    user = get_store().find_user(identity.user)
    session.clear()  # nothing from before the sign-in carries over
    session.permanent = True
    login_user(SessionUser(user))
    if identity.must_change_password:
        return redirect(url_for("account.password", next=_safe_next(target)), 303)
    return redirect(_safe_next(target), 303)


@bp.post("/logout")
@requires(None)
@documented(
    "account",
    body={FORM: form()},
    answers={303: ("Signed out: go to the sign-in page.", None)},
    errors={400: "The form's CSRF token is missing or wrong (a browser session)."},
)
def logout() -> Response:
    """End the session and go back to the sign-in page."""
    identity = current_identity()
    if identity is not None and identity.token is None:
        get_store().append_event(
            "signed-out", via="http", client=request_client(), outcome="done", message=f"{identity.user} signed out."
        )
    logout_user()
    session.clear()
    return redirect(url_for("account.login"), 303)


@bp.route("/account/password", methods=["GET", "POST"])
@requires(SIGNED_IN)
@documented(
    "account",
    query=({"name": "next", "schema": _NEXT},),
    body={
        FORM: form(
            "current_password",
            "new_password",
            "repeat_password",
            current_password=_TEXT,
            new_password={"type": "string", "minLength": 12},
            repeat_password=_TEXT,
            next=_NEXT,
        )
    },
    answers={200: ("The password form.", HTML), 303: SEE_OTHER},
    errors={400: "The new password is refused (the form again, saying why), or the CSRF token is wrong."},
)
def password() -> Response:
    """Show the password form; on POST change the signed-in user's own password."""
    identity = current_identity()
    assert identity is not None  # authorize() let only signed-in users here
    target = request.values.get("next")
    if request.method == "GET":
        return _no_store(Response(render_template("password.html", next=target, error=None)))
    form = single_values(request.form)
    try:
        if identity.token is not None:
            raise InvalidArgument({"token": ["Sign in with your password to change it; a token cannot."]})
        if form.get("new_password") != form.get("repeat_password"):
            raise InvalidArgument({"repeat_password": ["The two new passwords differ."]})
        by = Actor("http", request_client())
        change_password(get_store(), identity.user, form.get("current_password", ""), form.get("new_password", ""), by)
    except InvalidArgument as e:
        message = " ".join(" ".join(problems) for problems in e.errors.values())
        return _no_store(Response(render_template("password.html", next=target, error=message), status=400))
    forget_first_password(get_settings(), identity.user)
    login_user(SessionUser(get_store().find_user(identity.user)))  # the new session version keeps this session
    return redirect(_safe_next(target), 303)
