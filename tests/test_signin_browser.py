"""Signing in, changing the password, the admin page and signing out in a real browser (Debian's chromium).

These contexts carry no token: the browser signs in through the form, as a
person does, with the session cookie and the forms' CSRF tokens. Screenshots go
to ``test-artifacts/`` at 1280 and 390 px; the Content-Security-Policy must not
block anything (a blocked script or style is a console error).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from service.storage import Store
from tests.conftest import ROOT
from tests.signin import PASSWORD, make_user

ARTIFACTS = ROOT / "test-artifacts"
NEW_PASSWORD = "a much longer secret 42"


@pytest.fixture
def person(browser: Any, live_server: str) -> Iterator[tuple[Any, list[str]]]:
    """Return a page without credentials, and the list its console errors go to."""
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page, errors
    finally:
        context.close()


def shots(page: Any, name: str) -> None:
    """Screenshot the page at 1280 and 390 px; at 390 nothing may overflow sideways."""
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
        if width == 390:
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, name
    page.set_viewport_size({"width": 1280, "height": 900})


def fill_sign_in(page: Any, name: str, password: str) -> None:
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_change_the_password_and_sign_out(person: tuple[Any, list[str]], store: Store) -> None:
    page, errors = person
    make_user(store, "alice", ["viewer"], must_change=True)
    page.goto("/ct")
    page.wait_for_url("**/login?next=/ct")
    shots(page, "login")
    fill_sign_in(page, "alice", "wrong password")
    assert page.get_by_role("alert").inner_text() == "The user name or password is not right."
    fill_sign_in(page, "alice", PASSWORD)
    page.wait_for_url("**/account/password?next=/ct")
    assert "choose your own" in page.locator("main").inner_text()
    shots(page, "password")
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=False).first.fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    page.wait_for_url("**/ct")
    assert page.locator(".account").inner_text().startswith("alice")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    page.goto("/")
    page.wait_for_url("**/login?next=/")
    assert errors == []


def test_the_admin_page_adds_a_user_and_makes_a_token(person: tuple[Any, list[str]], store: Store) -> None:
    page, errors = person
    make_user(store, "root", ["admin", "viewer"])
    make_user(store, "carol", ["viewer", "exporter"])
    make_user(store, "dave", ["viewer"], disabled=True)
    page.goto("/login")
    fill_sign_in(page, "root", PASSWORD)
    page.wait_for_url("**/")
    page.get_by_role("link", name="Users").click()
    page.wait_for_url("**/admin/users")
    add = page.locator("form", has=page.get_by_role("heading", name="Add a user"))
    add.get_by_label("User name").fill("Erin")
    add.get_by_label("exporter").check()
    add.get_by_role("button", name="Add user").click()
    password = page.locator("#secret").inner_text()
    assert store.find_user("erin")["roles"] == ["viewer", "exporter"] and len(password) >= 20
    token_form = page.locator("form", has=page.get_by_role("heading", name="Make a token"))
    token_form.get_by_label("Token name").fill("orthanc-router")
    token_form.get_by_label("For user").select_option("carol")
    token_form.get_by_role("button", name="Make token").click()
    assert page.locator("#secret").inner_text().startswith("dl_")
    shots(page, "admin-users")
    assert [token["name"] for token in store.list_tokens()] == ["orthanc-router"]
    assert errors == []


def test_the_audits_page_draws_under_the_content_security_policy(person: tuple[Any, list[str]], store: Store) -> None:
    page, errors = person
    make_user(store, "alice", ["viewer"])
    page.goto("/login?next=/audits")
    fill_sign_in(page, "alice", PASSWORD)
    page.wait_for_url("**/audits")
    page.wait_for_selector("body[data-ready=true]", timeout=30000)
    page.select_option("#renderer", "svg")
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator(".chart svg").count() == 4
    assert errors == []
