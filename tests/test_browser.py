"""The pages in a real browser (Debian's chromium driven by Playwright), without JavaScript-dependent steps.

The app serves on a free port from a thread (``live_server``); chromium is launched
from /usr/bin/chromium by the ``page`` fixture of ``tests/conftest.py`` (``.ci/run``
installs it; Playwright's own browser downloads are never used). Each page visited is saved as a screenshot under
``test-artifacts/``. Without chromium these tests skip, and under CI=true the
suite's skip-to-failure rule makes them fail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from service.ingest.document import save_fragment
from service.storage import Store
from tests.conftest import ROOT
from tests.signin import TEST_TOKEN, secret_of
from tests.studies import fragment

ARTIFACTS = ROOT / "test-artifacts"


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_home_station_filter_and_study_in_a_browser(page: Any, store: Store) -> None:
    now = datetime(2024, 3, 5)
    save_fragment(store, fragment("5.1", station="CT1", doses=(120.5, 80.0), protocol="Thorax"), now=now)
    save_fragment(store, fragment("5.2", station="CT2", description="Head", doses=(900.0,)), now=now)
    save_fragment(store, fragment("5.3", modality="RF", station="<script>alert(1)</script>", doses=(0.00125,)), now=now)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    page.goto("/")
    shot(page, "home")
    ct = page.locator("section", has=page.get_by_role("heading", name="CT"))
    assert ct.locator(".count").inner_text() == "2 studies"
    assert page.get_by_role("link", name="<script>alert(1)</script>").is_visible()

    ct.get_by_role("link", name="CT2").click()
    page.wait_for_url("**/ct?station_name=CT2")
    shot(page, "list-station")
    assert page.locator("table.studies tbody tr").count() == 1
    assert page.locator("#total").inner_text().startswith("1 study")

    page.goto("/ct")
    page.get_by_label("Study description").fill("chest")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**/ct?*study_description=chest*")
    shot(page, "list-filtered")
    rows = page.locator("table.studies tbody tr")
    assert rows.count() == 1
    assert "200.5" in rows.first.inner_text()  # total DLP, mGy·cm

    rows.first.get_by_role("link", name="2024-03-01 09:30").click()
    page.wait_for_url("**/studies/5.1")
    shot(page, "study")
    events = page.locator("table.events", has=page.get_by_role("columnheader", name="DLP (mGy·cm)"))
    assert events.locator("tbody tr.event").count() == 2
    assert "Thorax" in events.inner_text() and "120.5" in events.inner_text()

    page.goto("/rf")
    shot(page, "list-rf")
    assert "1,250" in page.locator("table.studies tbody").inner_text()  # 0.00125 Gy·m² in cGy·cm²
    assert dialogs == []  # the station name's script never ran


def test_pages_are_readable_on_a_narrow_screen(page: Any, store: Store) -> None:
    save_fragment(store, fragment("5.9", doses=(10.0,)), now=datetime(2024, 3, 5))
    page.set_viewport_size({"width": 380, "height": 800})
    page.goto("/studies/5.9")
    shot(page, "study-narrow")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 380  # wide tables scroll inside their own box, the page does not


def test_reading_needs_no_javascript_and_works_from_the_keyboard(
    browser: Any, live_server: str, page: Any, store: Store
) -> None:
    save_fragment(store, fragment("5.8", station="CT7", doses=(42.0,)), now=datetime(2024, 3, 5))
    context = browser.new_context(
        java_script_enabled=False,
        base_url=live_server,
        extra_http_headers={"Authorization": f"Bearer {secret_of(TEST_TOKEN)}"},
    )
    try:
        quiet = context.new_page()
        quiet.goto("/ct?station_name=ct7")
        quiet.get_by_role("link", name="2024-03-01 09:30").click()
        quiet.wait_for_url("**/studies/5.8")
        assert "42" in quiet.locator("table.events").first.inner_text()
    finally:
        context.close()
    page.goto("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    for _ in range(2):  # on to the brand, then CT
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/ct")
