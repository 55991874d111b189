"""The modality registry (service.modalities): one entry is all a new list modality needs."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime

import pytest
from flask.testing import FlaskClient

from service.export.layout import layout
from service.modalities import LIST_COLUMNS, MODALITIES, ROW_FIELDS, SECTIONS, Modality, list_modalities
from service.storage import Store

#: A list modality no release has: dental panoramic x-ray, with its events in the projection section.
PANORAMIC = Modality(
    "PX",
    "Panoramic x-ray",
    "PX",
    "projection",
    "events",
    "acquisition_protocol",
    summary=("number_of_events", "total_dap"),
    main=("total_dap",),
    searched=("projection",),
)


def _study(uid: str, modality: str, dap: float) -> dict:
    event = {"irradiation_event_uid": f"{uid}.1", "acquisition_protocol": "Panoramic adult", "dose_area_product": dap}
    return {
        "study_instance_uid": uid,
        "modalities": [modality],
        "study_date_time": datetime(2024, 5, 6, 9, 30),
        "study_description": "OPG",
        "patient": {},
        "equipment": {"station_name": "DENTAL1"},
        "projection": {"events": [event]},
        "summary": {"number_of_events": 1, "total_dap": dap},
        "reports": [],
        "created_at": datetime(2024, 5, 6),
        "updated_at": datetime(2024, 5, 6),
        "revision": 1,
        "schema_version": 1,
    }


@pytest.fixture
def panoramic(monkeypatch: pytest.MonkeyPatch) -> Iterator[Modality]:
    """Register the panoramic list modality in memory for one test."""
    monkeypatch.setitem(MODALITIES, "PX", PANORAMIC)
    layout.cache_clear()
    yield PANORAMIC
    layout.cache_clear()


def test_a_modality_added_to_the_registry_has_a_list_a_page_and_an_export(
    panoramic: Modality, client: FlaskClient, store: Store
) -> None:
    store.insert_studies([_study("9.1", "PX", 0.000123), _study("9.2", "DX", 0.5)])

    answer = client.get("/api/studies", query_string={"modality": "PX"}).json
    assert [item["study_instance_uid"] for item in answer["items"]] == ["9.1"]
    assert answer["total"] == 1 and answer["total_exact"]

    page = client.get("/px").get_data(as_text=True)
    assert "Panoramic x-ray studies" in page
    assert '<a href="/px?order=-total_dose">Total DAP</a> <span class="unit">(cGy·cm²)</span>' in page
    assert '<td class="num">123</td>' in page  # 0.000123 Gy·m² shown in cGy·cm²
    assert 'href="/px"' in client.get("/").get_data(as_text=True)  # in the navigation

    export = client.get("/api/exports/px.csv").get_data(as_text=True).lstrip("\ufeff")
    header, row = list(csv.reader(io.StringIO(export)))[:2]
    assert "E1 DAP (cGy·cm²)" in header and "Max CTDIvol (mGy)" not in header
    assert float(row[header.index("Total DAP (cGy·cm²)")]) == pytest.approx(123)
    assert row[header.index("E1 Acquisition protocol")] == "Panoramic adult"


def test_an_unregistered_list_is_not_found(client: FlaskClient) -> None:
    page = client.get("/px")
    assert page.status_code == 404
    assert "there is no study list at /px" in page.get_data(as_text=True)
    answer = client.get("/api/studies", query_string={"modality": "PX"})
    assert answer.status_code == 400 and "modality" in answer.json["errors"]


def test_every_entry_is_consistent_with_the_document_model() -> None:
    for key, modality in MODALITIES.items():
        assert modality.section in SECTIONS and set(modality.searched) <= set(SECTIONS)
        assert set(modality.main) <= set(modality.summary)
        assert list_modalities([modality.stored]) == [key]
    assert {column.path for column in LIST_COLUMNS} <= set(ROW_FIELDS)
