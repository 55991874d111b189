"""The server-rendered pages: home, modality lists, study detail; escaping of DICOM strings."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from markupsafe import escape

from service.ingest.document import save_fragment
from service.ingest.pipeline import Pipeline
from service.storage import Store
from service.web.present import superscripts, text
from tests.studies import fragment

NOW = datetime(2024, 3, 5)
SCRIPT = "<script>alert(1)</script>"


def html(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


@pytest.fixture
def studies(store: Store) -> Store:
    save_fragment(store, fragment("4.1", station="CT1", doses=(100.0, 50.0)), now=NOW)
    save_fragment(store, fragment("4.2", station="CT1", when=datetime(2024, 3, 2, 17, 45, 12)), now=NOW)
    save_fragment(store, fragment("4.3", station="CT2", when=datetime(2023, 5, 6, 7, 8)), now=NOW)
    save_fragment(
        store, fragment("4.4", modality="RF", station=SCRIPT, protocol="<b>bold</b>", doses=(0.00125,)), now=NOW
    )
    save_fragment(
        store,
        fragment(
            "4.5", modality="MG", station="MAMMO1", doses=(1.25, 1.5), patient__not_patient_indicator="QA phantom"
        ),
        now=NOW,
    )
    return store


def test_home_counts_studies_per_modality_and_station(client: FlaskClient, studies: Store) -> None:
    page = html(client, "/")
    counts = dict(re.findall(r'id="home-(\w+)">.*?data-count="(\d+)"', page, re.DOTALL))
    assert counts == {"CT": "3", "RF": "1", "DX": "0", "MG": "1", "NM": "0"}
    ct1 = re.search(r'href="/ct\?station_name=CT1">CT1</a></td>\s*<td class="num">(\d+)</td>\s*<td>([^<]*)</td>', page)
    assert ct1 is not None and ct1.groups() == ("2", "2024-03-02 17:45")
    assert 'href="/ct?station_name=CT2"' in page


def test_list_page_shows_key_columns_with_units_and_links(client: FlaskClient, studies: Store) -> None:
    page = html(client, "/ct?page_size=2")
    for heading in ("No. events", "Total DLP", "(mGy·cm)", "Max CTDIvol", "(mGy)"):
        assert heading in page
    assert "3 studies" in page
    assert ">2024-03-02 17:45</a>" in page  # dates as YYYY-MM-DD HH:MM, link to the detail page
    assert 'href="/studies/4.2"' in page
    assert 'href="/api/exports/ct.csv?page_size=2"' not in page  # paging is not a filter
    assert 'rel="next" href="/ct?page_size=2&amp;after=' in page  # the page size is kept from page to page
    assert '<th scope="col" aria-sort="descending">' in page  # newest first, and its header reverses it
    assert '<a href="/ct?page_size=2&amp;order=study_date_time">Date and time ▼</a>' in page
    assert '<a href="/ct?page_size=2&amp;order=-total_dose">Total DLP</a>' in page
    filtered = html(client, "/ct?station_name=CT2&date_from=2023-01-01")
    assert "1 study" in filtered
    assert 'href="/api/exports/ct.xlsx?station_name=CT2&amp;date_from=2023-01-01"' in filtered
    assert 'value="CT2"' in filtered  # the form shows the filters applied


def test_rf_list_shows_dap_in_cgy_cm2(client: FlaskClient, studies: Store) -> None:
    page = html(client, "/rf")
    assert '>Total DAP</a> <span class="unit">(cGy·cm²)</span>' in page
    assert '<td class="num">1,250</td>' in page  # thousands separated


def test_dicom_strings_are_escaped_everywhere(client: FlaskClient, studies: Store) -> None:
    for url in ("/", "/rf", "/studies/4.4"):
        page = html(client, url)
        assert SCRIPT not in page and "<b>bold</b>" not in page
        assert str(escape(SCRIPT)) in page
    assert str(escape("<b>bold</b>")) in html(client, "/studies/4.4")


def test_not_patient_indicator_is_shown(client: FlaskClient, studies: Store) -> None:
    assert 'class="badge" title="QA phantom"' in html(client, "/mg")
    assert "<strong>Not a patient:</strong> QA phantom" in html(client, "/studies/4.5")


def test_mammography_list_shows_agd_per_breast(client: FlaskClient, studies: Store) -> None:
    page = html(client, "/mg")
    assert "AGD left" in page and "AGD right" in page
    assert '<td class="num">1.5</td>' in page and '<td class="num">1.25</td>' in page


def test_bad_list_argument_gives_an_html_400(client: FlaskClient, studies: Store) -> None:
    page = html(client, "/ct?date_from=yesterday", status=400)
    assert "date_from: Expected a date as YYYY-MM-DD." in page


def test_unknown_study_gives_an_html_404(client: FlaskClient, studies: Store) -> None:
    assert "There is no study with Study Instance UID 1.2.404" in html(client, "/studies/1.2.404", status=404)


def forms(value: Any) -> list[str]:
    """Return the ways a page may write a stored value: as text, a time of day, or in a shown unit (DAP, mAs)."""
    if isinstance(value, datetime):
        return [text(value), value.strftime("%H:%M:%S")]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [text(value), text(value * 1e6), text(value / 1000)]  # Gy·m² as cGy·cm², µAs as mAs
    return [str(escape(text(value))), str(escape(superscripts(str(value))))]


def leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in leaves(item)]
    return [value]


@pytest.mark.parametrize(
    "name",
    ["CT-RDSR-Siemens_Flash-TAP-SS.dcm", "RF-RDSR-Siemens-Zee.dcm", "MG-RDSR-Hologic_2D.dcm", "NM-RRDSR-Siemens.dcm"],
)
def test_detail_page_shows_every_stored_value(
    client: FlaskClient, store: Store, pipeline: Pipeline, corpus: Path, name: str
) -> None:
    pipeline.ingest((corpus / name).read_bytes(), name=name, via="cli", client="test")
    (uid,) = [d["study_instance_uid"] for d in store.find_studies({}, sort=[], limit=0)]
    document = store.get_study(uid)
    page = html(client, f"/studies/{uid}")
    # every value appears somewhere: the header, totals, events, "More about this study" or "Identifiers"
    missing = [v for v in leaves(document) if v is not None and not any(form in page for form in forms(v))]
    assert missing == []
    assert "Study instance UID" in page and "Serial number" in page
