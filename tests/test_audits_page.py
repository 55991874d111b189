"""The audits page draws its charts in headless Chromium, without console errors, from vendored ECharts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.ingest.pipeline import Pipeline
from service.storage import Store
from tests import auditdata as data

ROOT = Path(__file__).resolve().parent.parent
CHARTS = ("chart-medians", "chart-box", "chart-trend", "chart-workload")
ARTIFACTS = ROOT / "test-artifacts"


def test_vendored_echarts_is_the_locked_version() -> None:
    lock = json.loads((ROOT / "package-lock.json").read_text())
    version = lock["packages"]["node_modules/echarts"]["version"]
    script = (ROOT / "service/web/static/vendor/echarts/echarts.min.js").read_text()
    assert f'version="{version}"' in script
    assert f"| {version} |" in (ROOT / "service/web/static/vendor/README.md").read_text()


def test_the_page_lists_the_audits_and_uses_no_cdn(client: FlaskClient) -> None:
    page = client.get("/audits").get_data(as_text=True)
    assert "CT DLP per acquisition protocol" in page
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith(("/", "#", "data:")) for s in sources)
    with client.get(next(s for s in sources if s.endswith("echarts.min.js"))) as script:
        assert script.status_code == 200 and script.mimetype == "text/javascript"


def test_an_unknown_audit_is_a_404_naming_it(client: FlaskClient) -> None:
    response = client.get("/audits?audit=%24gt", headers={"Accept": "text/html"})
    assert response.status_code == 404 and "$gt" in response.get_data(as_text=True)
    assert client.get("/audits?audit=ct_dlp_by_study_description").status_code == 200


def open_audits(page: Any, url: str) -> list[str]:
    """Open ``url`` and wait for the charts; return the list its console and page errors go to."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 1800})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]", timeout=30000)
    return errors


def test_charts_render_and_save_as_svg(page: Any, store: Store) -> None:
    data.seed_ct(store)
    errors = open_audits(page, "/audits")
    drawn = page.evaluate(
        "ids => ids.map(id => echarts.getInstanceByDom(document.getElementById(id)).getOption().series"
        "  .map(s => s.data.length))",
        list(CHARTS),
    )
    assert drawn == [
        [3, 3],
        [3],
        [2, 2, 2],
        [3],
    ]  # 3 groups (no reference levels); a line of 2 months per group; 3 cells
    for chart in CHARTS:
        assert page.locator(f"#{chart} canvas").count() >= 1, chart
    assert page.locator("#results tbody tr").count() == 3
    page.screenshot(path=str(ARTIFACTS / "audits-page.png"), full_page=True)
    page.select_option("#renderer", "svg")
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator(".chart svg").count() == 4 and page.locator(".chart canvas").count() == 0
    assert page.locator("#chart-medians svg path").count() > 3  # bars, whiskers, axes drawn as SVG
    assert errors == []


def test_the_page_shows_the_apis_numbers_for_the_corpus(
    page: Any, client: FlaskClient, pipeline: Pipeline, corpus: Path
) -> None:
    for name in data.CORPUS_CT:
        pipeline.ingest((corpus / name).read_bytes(), name=name, via="cli", client="test")
    rows = client.get("/api/audits/ct_dlp_by_protocol").get_json()["rows"]
    errors = open_audits(page, "/audits?audit=ct_dlp_by_protocol")
    headers = page.locator("#results thead th").all_inner_texts()
    cells = [row.locator("td").all_inner_texts() for row in page.locator("#results tbody tr").all()]
    shown = [dict(zip(headers, row, strict=True)) for row in cells]
    assert [(r["Acquisition protocol"], r["Count"]) for r in shown] == [
        (r["name"] or "(blank)", str(r["count"])) for r in rows
    ]
    for row, api in zip(shown, rows, strict=True):
        median = float(row["Median (mGy·cm)"].replace(",", ""))
        assert median == pytest.approx(api["median"], rel=1e-3)  # 4 significant digits
    assert errors == []
