"""Every page in Debian's chromium at 1280 and 390 px: no sideways scroll, no None/nan/exponent, charts drawn.

One site for the module: the sample corpus imported, plus a 316-event biplane
interventional study (``tests.studies.interventional_study``), served from a
thread under the Content-Security-Policy the service sends (only its own
scripts and styles), so an inline script or style would show as a console
error. Every page visited is saved as a screenshot under
``test-artifacts/pages/`` (git-ignored) for a developer to look at.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from schemas.display import format_number
from service import create_app
from service.ingest.document import save_fragment
from service.ingest.pipeline import Pipeline
from service.storage import Store
from service.web.context import close_store, get_store
from service.web.headers import CONTENT_SECURITY_POLICY
from tests import browsing
from tests.alerting import rule, use_rules
from tests.arrivals import corpus_files
from tests.conftest import ROOT
from tests.signin import TEST_TOKEN, secret_of, signed_in_client
from tests.studies import interventional_study

ARTIFACTS = ROOT / "test-artifacts" / "pages"
WIDTHS = {1280: 900, 390: 844}
BIG = "1.2.826.0.1.3680043.10.316"


@dataclass(frozen=True)
class Site:
    """The served site: its URL, the headers that sign a browser in, and the studies to look at by name."""

    url: str
    headers: dict[str, str]
    studies: dict[str, str]


def credentials(app: Flask) -> dict[str, str]:
    """Return the headers that sign a browser in with every role (the test user's API token)."""
    signed_in_client(app)
    return {"Authorization": f"Bearer {secret_of(TEST_TOKEN)}"}


def _studies(store: Store) -> dict[str, str]:
    """Return the study of each modality with the most events, by name, and the 316-event one."""
    found: dict[str, str] = {"rf316": BIG}
    for key in ("CT", "RF", "DX", "MG", "NM"):
        rows = store.find_studies({"modalities": key, "study_instance_uid": {"$ne": BIG}}, sort=[], limit=0)
        found[key.lower()] = max(rows, key=lambda r: r["summary"]["number_of_events"] or 0)["study_instance_uid"]
    return found


def test_the_site_sends_its_content_security_policy(tab: Any, site: Site) -> None:
    response = tab.request.get("/")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


@pytest.fixture(scope="module")
def site(mongo_uri: str, corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Import the corpus and the 316-event study into a database of this module; serve it from a thread."""
    name = f"doseledger_pages_{secrets.token_hex(4)}"
    data = tmp_path_factory.mktemp("pages") / "db"
    app = create_app(
        {"TESTING": True, "MONGODB_URI": mongo_uri, "DOSELEDGER_DB_NAME": name, "DOSELEDGER_DATA_DIR": str(data)}
    )
    with app.app_context():
        store = get_store()
        pipeline = Pipeline.from_settings(store, app.config["DOSELEDGER_SETTINGS"])
        use_rules(store, rule("Fluoroscopy DAP", "study_total", "RF", quantity="total_dap", level=5, unit="Gy.cm2"))
        for path in corpus_files(corpus):
            pipeline.ingest(path.read_bytes(), name=path.name, via="cli", client="test")
        save_fragment(store, interventional_study(BIG), now=datetime(2024, 3, 5))
        studies = _studies(store)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(f"http://127.0.0.1:{server.server_port}", credentials(app), studies)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        with app.app_context():
            get_store().client.drop_database(name)
        close_store(app)


@pytest.fixture(scope="module", params=sorted(WIDTHS, reverse=True), ids=lambda w: f"{w}px")
def tab(request: pytest.FixtureRequest, browser: Any, site: Site) -> Iterator[Any]:
    """Return a page of the given width whose console errors (a CSP refusal among them) are collected."""
    width = request.param
    context = browser.new_context(
        viewport={"width": width, "height": WIDTHS[width]}, base_url=site.url, extra_http_headers=site.headers
    )
    page = context.new_page()
    page.errors = []
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield page
    context.close()


def visit(page: Any, url: str, name: str, ready: str | None = None) -> str:
    """Open ``url``, wait for its scripts, save a screenshot; return the visible text."""
    page.errors.clear()
    page.goto(url)
    if ready:
        page.wait_for_selector(ready, timeout=20000)
    width = page.viewport_size["width"]
    page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
    return browsing.visible_text(page)


def check(page: Any, text: str, name: str) -> None:
    """Assert what every page must be: no sideways scroll, no bad numbers, labelled fields, no console errors."""
    scroll, width = page.evaluate(browsing.OVERFLOW)
    assert scroll <= width, f"{name}: the page is {scroll} px wide at {width} px"
    assert browsing.BAD_TEXT.findall(text) == [], name
    assert page.evaluate(browsing.UNLABELLED) == [], name
    expected = "the server responded with a status of 404" if name == "error" else None  # the page's own status
    assert [e for e in page.errors if not (expected and expected in e)] == [], name


PAGES = {
    "home": ("/", None),
    "list-ct": ("/ct", "body[data-charts=ready]"),
    "list-rf": ("/rf", "body[data-charts=ready]"),
    "list-dx": ("/dx", "body[data-charts=ready]"),
    "list-mg": ("/mg", "body[data-charts=ready]"),
    "list-nm": ("/nm", "body[data-charts=ready]"),
    "audits": ("/audits", "body[data-ready=true]"),
    "audits-rf": ("/audits?audit=rf_dap_by_protocol&per_station=no", "body[data-ready=true]"),
    "error": ("/studies/no-such-study", None),
}


@pytest.mark.parametrize("name", PAGES)
def test_every_page_fits_and_reads_well(tab: Any, name: str) -> None:
    url, ready = PAGES[name]
    text = visit(tab, url, name, ready)
    check(tab, text, name)
    assert tab.locator("header.top nav").is_visible()  # error pages too


@pytest.mark.parametrize("study", ["ct", "rf", "dx", "mg", "nm", "rf316"])
def test_every_study_page_fits_and_reads_well(tab: Any, site: Site, study: str) -> None:
    text = visit(tab, f"/studies/{site.studies[study]}", f"study-{study}")
    check(tab, text, study)
    assert "Totals" in text


@pytest.mark.parametrize(
    ("study", "columns"),
    [("ct", ["CTDIvol", "DLP"]), ("rf", ["DAP", "Dose RP"]), ("rf316", ["DAP", "Dose RP"])],
)
def test_the_first_screen_holds_totals_and_key_quantities(tab: Any, site: Site, study: str, columns: list[str]) -> None:
    tab.goto(f"/studies/{site.studies[study]}")
    tab.screenshot(path=str(ARTIFACTS / f"first-screen-{study}-{tab.viewport_size['width']}.png"))
    seen = tab.evaluate(browsing.FIRST_SCREEN, columns)
    assert seen["totals"] <= seen["height"] and seen["row"] <= seen["height"], seen
    assert None not in seen["columns"] and max(seen["columns"]) <= seen["width"], seen
    assert seen["scrolled"] == 0


def test_the_316_event_page_is_under_300_kb(tab: Any, site: Site) -> None:
    response = tab.request.get(f"/studies/{BIG}")
    assert response.ok and len(response.body()) < 300_000


@pytest.mark.parametrize("name", ["list-ct", "list-rf", "list-nm", "audits"])
def test_charts_are_drawn(tab: Any, name: str) -> None:
    url, ready = PAGES[name]
    visit(tab, url, name, ready)
    tab.screenshot(path=str(ARTIFACTS / f"first-screen-{name}-{tab.viewport_size['width']}.png"))
    charts = (
        ["chart-median", "chart-spread"]
        if name.startswith("list")
        else ["chart-medians", "chart-box", "chart-workload"]
    )
    for chart in charts:
        assert tab.evaluate(browsing.CANVAS_INK, chart) > 500, chart


def test_list_charts_can_be_hidden_and_stay_hidden(tab: Any) -> None:
    visit(tab, "/ct", "list-ct", "body[data-charts=ready]")
    tab.locator("#charts > summary").click()
    assert not tab.locator("#chart-median").is_visible()
    tab.reload()
    assert not tab.locator("#chart-median").is_visible() and not tab.locator("#charts").get_attribute("open")
    tab.locator("#charts > summary").click()  # shown again for the other tests
    tab.wait_for_selector("body[data-charts=ready]")


def test_the_audit_and_its_filters_are_in_the_url(tab: Any) -> None:
    visit(tab, "/audits?audit=ct_dlp_by_protocol&station_name=CT", "audits-station", "body[data-ready=true]")
    assert tab.locator("input[name=station_name]").input_value() == "CT"
    tab.select_option("#audit", "rf_dap_by_protocol")
    tab.wait_for_url("**/audits?audit=rf_dap_by_protocol*station_name=CT*")
    tab.wait_for_selector("body[data-ready=true]")
    tab.go_back()
    tab.wait_for_url("**/audits?audit=ct_dlp_by_protocol&station_name=CT")
    tab.wait_for_function("document.getElementById('audit').value === 'ct_dlp_by_protocol'")


def test_the_alerts_table_is_labelled_with_units_and_links(tab: Any, site: Site) -> None:
    visit(tab, "/audits?audit=rf_dap_by_protocol", "audits-rf", "body[data-ready=true]")
    heads = tab.locator("#alerts thead th").all_inner_texts()
    assert heads[:4] == ["Date and time", "Station", "Study description", "Modalities"]
    assert all("_" not in head for head in heads) and "Total DAP (cGy·cm²)" in heads
    assert (
        "Total DAP above 500 cGy·cm²" in tab.locator("#alert-levels").inner_text()
    )  # the site's rule: 5 Gy·cm², as the lists show DAP
    results = tab.locator("#results thead th").all_inner_texts()
    assert "Median (cGy·cm²)" in results and "Acquisition protocol" in results


def test_the_script_formatter_writes_numbers_as_the_pages_do(tab: Any) -> None:
    visit(tab, "/audits", "audits", "body[data-ready=true]")
    values = [
        46881,
        16.2604,
        1590.0,
        1102.45,
        200.5,
        0.0000625,
        0.000220346,
        5.1e-05,
        999.96,
        -3.14159,
        0.0,
        12345678.9,
    ]
    assert tab.evaluate("(vs) => vs.map((v) => DoseCharts.formatNumber(v))", values) == [
        format_number(v) for v in values
    ]


def test_text_meets_wcag_aa_contrast(tab: Any, site: Site) -> None:
    for url, ready in [("/", None), ("/rf", "body[data-charts=ready]"), (f"/studies/{BIG}", None), PAGES["audits"]]:
        tab.goto(url)
        if ready:
            tab.wait_for_selector(ready)
        assert tab.evaluate(browsing.LOW_CONTRAST) == [], url


def test_without_javascript_the_audits_page_says_why_it_is_empty(browser: Any, site: Site) -> None:
    context = browser.new_context(java_script_enabled=False, base_url=site.url, extra_http_headers=site.headers)
    try:
        page = context.new_page()
        page.goto("/audits?audit=ct_dlp_by_protocol")
        assert "draws its charts and tables with JavaScript" in browsing.visible_text(page)
        page.goto(f"/studies/{BIG}?rf-type=DCM:113611")  # the events filter is a plain form
        assert page.locator("tr.event").count() == 46
    finally:
        context.close()
