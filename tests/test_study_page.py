"""The study page (service.web.study_view): header, totals, events tables by modality, identifiers apart."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from flask.testing import FlaskClient

from service.ingest.document import save_fragment
from service.storage import Store
from service.web.events_table import EVENTS_PER_PAGE
from service.web.identifiers import event_numbers, is_identifier, split_identifiers
from tests.studies import fragment, interventional_study

NOW = datetime(2024, 3, 5)
BIG = "1.2.826.0.1.3680043.10.316"
HTML = {"Accept": "text/html"}


def page(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url, headers=HTML)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def section(html: str, start: str, end: str = "</section>") -> str:
    """Return the part of ``html`` from ``start`` to the next ``end``."""
    begin = html.index(start)
    return html[begin : html.index(end, begin)]


def headers(html: str) -> list[str]:
    """Return the column headers of the first events table, tags removed."""
    head = section(html, '<table class="events">', "</thead>")
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<th scope=\"col\"[^>]*>(.*?)</th>", head)]


@pytest.fixture
def big(store: Store) -> Store:
    save_fragment(store, interventional_study(BIG), now=NOW)
    return store


def test_ct_page_leads_with_header_totals_and_key_quantities_first(client: FlaskClient, store: Store) -> None:
    study = fragment(
        "7.1", doses=(1234.5, 80.25), protocol="Thorax", weight=72.46, patient__height_m=1.753, patient__sex="M"
    )
    study["ct"]["events"][0].update(
        date_time_started=datetime(2024, 3, 1, 9, 31, 5),
        ct_acquisition_type={
            "code_value": "116152004",
            "coding_scheme_designator": "SCT",
            "code_meaning": "Spiral Acquisition",
        },
        sources=[{"identification_of_the_xray_source": "A", "kvp": 120.0, "xray_tube_current": 250.0}],
        pitch_factor=0.984,
    )
    save_fragment(store, study, now=NOW)
    html = page(client, "/studies/7.1")
    head = section(html, '<header class="study-head">', "</header>")
    for shown in ("Chest CT", "2024-03-01 09:30", "CT1", "Acme Medical Model 9", "ACC-7.1", "50", "M", "1.75", "72.5"):
        assert f">{shown}<" in head or f"{shown} <" in head, shown
    totals = section(html, '<section class="totals"')
    assert '<dt>Total DLP</dt><dd><span class="figure">1,315</span> <span class="unit">mGy·cm</span>' in totals
    assert '<dt>Max CTDIvol</dt><dd><span class="figure">123.5</span> <span class="unit">mGy</span>' in totals
    assert headers(html) == [
        "Time",
        "Protocol",
        "Type",
        "CTDIvol (mGy)",
        "DLP (mGy·cm)",
        "kVp (kV)",
        "mA (mA)",
        "Pitch",
    ]  # fmt: skip  (columns no event fills are left out)
    first = section(html, '<tbody id="ct-1">', "</tbody>")
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", first)
    assert cells[:8] == ["09:31:05", "Thorax", "Spiral Acquisition", "123.5", "1,235", "120", "250", "0.984"]
    assert html.index('<section class="totals"') < html.index('<table class="events">') < html.index('id="identifiers"')


def test_identifiers_are_kept_apart_in_a_collapsed_section(client: FlaskClient, store: Store) -> None:
    save_fragment(store, fragment("7.2", doses=(10.0, 20.0)), now=NOW)
    html = page(client, "/studies/7.2")
    identifiers = section(html, 'id="identifiers"')
    above = html[: html.index('id="identifiers"')]
    for uid in ("7.2.0", "7.2.1", "7.2.99", "72".rjust(64, "0")):
        assert uid in identifiers and uid not in above, uid
    assert "<details>" in identifiers and "<details open" not in identifiers
    assert ">CT 1–2<" in identifiers  # the report's events, by their numbers on the page


def test_interventional_study_of_316_events_stays_small_and_pages(client: FlaskClient, big: Store) -> None:
    response = client.get(f"/studies/{BIG}", headers=HTML)
    html = response.get_data(as_text=True)
    assert len(response.data) < 300_000
    assert html.count('<tr class="event">') == EVENTS_PER_PAGE
    assert "Events 1–100 of 316" in html
    last = page(client, f"/studies/{BIG}?rf-page=4")
    assert last.count('<tr class="event">') == 16 and 'id="rf-316"' in last and "Events 301–316 of 316" in last
    assert page(client, f"/studies/{BIG}?rf-page=9").count('<tr class="event">') == 16  # past the end: the last page
    # the plane is a column (two planes), the same-in-every-event values are listed once
    assert headers(html)[:6] == ["Time", "Type", "Plane", "Protocol", "DAP (cGy·cm²)", "Dose RP (Gy)"]
    common = section(html, '<details class="common">', "</details>")
    assert "Source to isocenter distance" in common and html.count("Source to isocenter distance") == 1


def test_totals_show_each_plane_of_a_biplane_room(client: FlaskClient, big: Store) -> None:
    document = big.get_study(BIG)
    planes = document["projection"]["accumulated"]
    html = section(page(client, f"/studies/{BIG}"), '<section class="totals"')
    dap = [f"{p['acquisition_plane']['code_meaning']}: {p['dose_area_product_total'] * 1e6:,.0f}" for p in planes]
    assert dap == ["Plane A: 2,542", "Plane B: 2,695"]
    assert all(f"<span>{part}</span>" in html for part in dap)


def test_events_filter_by_type_and_plane(client: FlaskClient, big: Store) -> None:
    html = page(client, f"/studies/{BIG}")
    options = dict(re.findall(r'<option value="([^"]+)"[^>]*>([^<]+)</option>', section(html, "<form", "</form>")))
    assert options == {
        "SCT:44491008": "Fluoroscopy (270)",  # SRT P5-06000, normalised
        "DCM:113611": "Stationary Acquisition (46)",
        "DCM:113620": "Plane A (158)",
        "DCM:113621": "Plane B (158)",
    }
    acquisitions = page(client, f"/studies/{BIG}?rf-type=DCM:113611")
    assert acquisitions.count('<tr class="event">') == 46 and "46 of 316 events" in acquisitions
    assert 'id="rf-1"' in acquisitions and 'id="rf-8"' in acquisitions and 'id="rf-2"' not in acquisitions
    both = page(client, f"/studies/{BIG}?rf-type=DCM:113611&rf-plane=DCM:113621")
    assert both.count('<tr class="event">') == 23 and 'id="rf-8"' in both and 'id="rf-1"' not in both
    none = page(client, f"/studies/{BIG}?rf-type=DCM:999")
    assert "No event matches these filters." in none


def test_unknown_or_bad_arguments_are_a_400_naming_them(client: FlaskClient, big: Store) -> None:
    assert "ct-page: Unknown argument" in page(client, f"/studies/{BIG}?ct-page=2", status=400)
    assert "rf-page: Expected a page number" in page(client, f"/studies/{BIG}?rf-page=0", status=400)
    assert "rf-page: Expected a page number" in page(client, f"/studies/{BIG}?rf-page=%D9%A3", status=400)
    assert "rf-type: Expected at most 100 characters" in page(client, f"/studies/{BIG}?rf-type={'x' * 101}", status=400)


def test_small_tables_offer_no_filter_and_one_plane_is_no_column(client: FlaskClient, store: Store) -> None:
    save_fragment(store, fragment("7.3", modality="RF", doses=(0.00125, 0.0005)), now=NOW)
    html = page(client, "/studies/7.3")
    assert '<form class="event-filter"' not in html
    assert "Plane" not in headers(html)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("irradiation_event_uid", "1.2.3", True),
        ("event_uids", ["1.2"], True),
        ("sha256", "ab", True),
        ("acquired_image", [{"referenced_sop_class_uid": "1", "referenced_sop_instance_uid": "2"}], True),
        ("acquisition_plane", {"code_value": "113620", "coding_scheme_designator": "DCM"}, False),
        ("xray_filters", [{"xray_filter_type": {"code_value": "1", "coding_scheme_designator": "DCM"}}], False),
        ("comment", "1.2.3", False),
    ],
)
def test_what_counts_as_an_identifier(name: str, value: object, expected: bool) -> None:
    assert is_identifier(name, value) is expected


def test_split_identifiers_keeps_the_shape_of_lists() -> None:
    kept, found = split_identifiers({"reports": [{"kind": "rdsr", "sha256": "a"}, {"kind": "image"}], "x": 1})
    assert kept == {"reports": [{"kind": "rdsr"}, {"kind": "image"}], "x": 1}
    assert found == {"reports": [{"sha256": "a"}, {}]}


def test_event_numbers_are_written_in_runs() -> None:
    numbers = {f"u{n}": ("RF", n) for n in range(1, 10)}
    assert event_numbers(["u1", "u2", "u3", "u5", "u7", "u8", "gone"], numbers) == "RF 1–3, 5, 7–8, gone"
