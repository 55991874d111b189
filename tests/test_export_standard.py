"""Standard names in CSV and XLSX exports: exact cells, beside the raw names, study and event columns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.audits.names import StandardNames
from service.export.layout import layout
from service.export.standard import standard_header, with_standard_names
from service.ingest.document import save_fragment
from service.modalities import MODALITIES
from service.storage import Store
from tests import auditdata as data
from tests.auditdata import NOW
from tests.exporting import read_csv, read_sheets, sheet_xml

CT_PROTOCOL = {"modality": "CT", "field": "acquisition_protocol"}
CT_DESCRIPTION = {"modality": "CT", "field": "study_description"}
WHEN = datetime(2025, 1, 6, 9, 15)


def seed(store: Store) -> dict[str, str]:
    """Save two CT studies: protocols 'HEAD ROUTINE', 'Head Routine', 'CHEST'; descriptions 'CT HEAD', 'Chest'."""
    first = data.ct([("HEAD ROUTINE", 10.0), ("Head Routine", 20.0), ("CHEST", 30.0)], when=WHEN, description="CT HEAD")
    second = data.ct([("CHEST", 40.0)], when=datetime(2025, 1, 5), description="Chest")
    for fragment in (first, second):
        save_fragment(store, fragment, now=NOW)
    return {"first": first["study_instance_uid"], "second": second["study_instance_uid"]}


def name(store: Store, mapping: dict[str, str], raw: str, standard: str) -> None:
    store.set_standard_name({**mapping, "raw": raw, "standard": standard})


def csv_rows(client: FlaskClient) -> dict[str, dict[str, str]]:
    response = client.get("/api/exports/ct.csv")
    assert response.status_code == 200
    return {row["Study instance UID"]: row for row in read_csv(response.get_data(as_text=True))}


def xlsx_sheets(client: FlaskClient) -> dict[str, list[dict[str, Any]]]:
    response = client.get("/api/exports/ct.xlsx")
    assert response.status_code == 200
    return read_sheets(response.get_data())


def event_cells(row: dict[str, Any], events: int, header: str) -> list[Any]:
    return [row[f"E{n} {header}"] for n in range(1, events + 1)]


def test_each_mappable_name_is_followed_by_its_standard_column() -> None:
    headers = {}
    for modality in sorted(MODALITIES):
        shape = with_standard_names(layout(modality), StandardNames.of(modality, []))
        headers[modality] = [c.header for c in (*shape.study_columns, *shape.event_columns) if "Standard" in c.header]
        event_headers = shape.event_headers()
        for header in headers[modality]:
            raw = event_headers[event_headers.index(header) - 1]
            assert standard_header(raw) == header
        assert len(set(shape.study_headers(3))) == len(shape.study_headers(3))
    assert headers == {
        "CT": ["Standard study description", "Standard acquisition protocol"],
        "RF": ["Standard study description", "Standard acquisition protocol"],
        "DX": ["Standard acquisition protocol"],
        "MG": ["Standard view"],
        "NM": ["Standard radiopharmaceutical"],
    }
    assert standard_header("CTDIvol") == "Standard CTDIvol"


def test_csv_and_xlsx_cells_hold_the_standard_name_or_nothing(client: FlaskClient, store: Store) -> None:
    uids = seed(store)
    name(store, CT_PROTOCOL, "HEAD ROUTINE", "Head")  # not 'Head Routine': audits match names exactly
    name(store, CT_PROTOCOL, "CHEST", "Chest")
    name(store, CT_DESCRIPTION, "CT HEAD", "Head")
    name(store, {"modality": "DX", "field": "acquisition_protocol"}, "Head Routine", "not CT's")
    row = csv_rows(client)[uids["first"]]
    assert (row["Study description"], row["Standard study description"]) == ("CT HEAD", "Head")
    assert event_cells(row, 3, "Acquisition protocol") == ["HEAD ROUTINE", "Head Routine", "CHEST"]
    assert event_cells(row, 3, "Standard acquisition protocol") == ["Head", "", "Chest"]
    assert list(row).index("E1 Standard acquisition protocol") == list(row).index("E1 Acquisition protocol") + 1
    second = csv_rows(client)[uids["second"]]
    assert (second["Standard study description"], second["E1 Standard acquisition protocol"]) == ("", "Chest")
    assert second["E2 Standard acquisition protocol"] == ""  # no second event

    sheets = xlsx_sheets(client)
    all_data = {r["Study instance UID"]: r for r in sheets["All data"]}[uids["first"]]
    assert all_data["Standard study description"] == "Head"
    assert event_cells(all_data, 3, "Standard acquisition protocol") == ["Head", None, "Chest"]
    events = {(r["Acquisition protocol"], r["DLP (mGy·cm)"]): r for rows in list(sheets.values())[2:] for r in rows}
    assert {
        key: (r["Standard acquisition protocol"], r["Standard study description"]) for key, r in events.items()
    } == {
        ("HEAD ROUTINE", 10.0): ("Head", "Head"),
        ("Head Routine", 20.0): (None, "Head"),
        ("CHEST", 30.0): ("Chest", "Head"),
        ("CHEST", 40.0): ("Chest", None),
    }


def test_summary_counts_standard_names(client: FlaskClient, store: Store) -> None:
    seed(store)
    name(store, CT_PROTOCOL, "HEAD ROUTINE", "Head")
    name(store, CT_PROTOCOL, "Head Routine", "Head")
    summary = xlsx_sheets(client)["Summary"]
    table = summary.index(next(r for r in summary if r.get(0) == "Study description"))
    heading = summary[table]
    assert [heading.get(i) for i in range(0, 14, 3)] == [
        "Study description", "Standard study description", "Requested procedure", "Acquisition protocol",
        "Standard acquisition protocol",
    ]  # fmt: skip
    rows = summary[table + 1 : table + 4]
    assert [(r.get(12), r.get(13)) for r in rows] == [("Head", 2), (None, 2), (None, None)]  # unmapped CHEST last
    assert [(r.get(3), r.get(4)) for r in rows] == [(None, 2), (None, None), (None, None)]


def test_a_mapping_added_after_import_shows_in_the_next_export(client: FlaskClient, store: Store) -> None:
    uids = seed(store)
    before = csv_rows(client)[uids["first"]]
    assert event_cells(before, 3, "Standard acquisition protocol") == ["", "", ""]
    name(store, CT_PROTOCOL, "Head Routine", "Head")
    after = csv_rows(client)[uids["first"]]
    assert event_cells(after, 3, "Standard acquisition protocol") == ["", "Head", ""]
    store.delete_standard_name({**CT_PROTOCOL, "raw": "Head Routine"})
    assert event_cells(csv_rows(client)[uids["first"]], 3, "Standard acquisition protocol") == ["", "", ""]


@pytest.mark.parametrize("modality", sorted(MODALITIES))
def test_without_mappings_standard_columns_are_there_and_empty(
    client: FlaskClient, store: Store, modality: str
) -> None:
    data.seed_filters(store)
    rows = read_csv(client.get(f"/api/exports/{modality.lower()}.csv").get_data(as_text=True))
    standard = [header for header in rows[0] if "Standard " in header]
    assert standard and rows
    assert {row[header] for row in rows for header in standard} == {""}
    sheets = read_sheets(client.get(f"/api/exports/{modality.lower()}.xlsx").get_data())
    assert all(r[h] is None for rows in list(sheets.values())[1:] for r in rows for h in r if "Standard " in h)


def test_mg_views_and_nm_radiopharmaceuticals_map_by_code_meaning(client: FlaskClient, store: Store) -> None:
    data.seed_filters(store)
    name(store, {"modality": "MG", "field": "image_view"}, "cranio-caudal", "CC")
    name(store, {"modality": "NM", "field": "radiopharmaceutical_agent"}, "Fluorodeoxyglucose", "FDG")
    mg = read_csv(
        client.get("/api/exports/mg.csv", query_string={"accession_number": "ACC-1008"}).get_data(as_text=True)
    )
    assert event_cells(mg[0], 3, "View") == ["cranio-caudal", "medio-lateral oblique", "cranio-caudal"]
    assert event_cells(mg[0], 3, "Standard view") == ["CC", "", "CC"]
    nm = read_sheets(client.get("/api/exports/nm.xlsx").get_data())
    assert {r["E1 Radiopharmaceutical"]: r["E1 Standard radiopharmaceutical"] for r in nm["All data"]} == {
        "Fluorodeoxyglucose": "FDG",
        "Technetium MDP": None,
    }


def test_standard_names_that_look_like_formulas_are_neutralised(client: FlaskClient, store: Store) -> None:
    uids = seed(store)
    name(store, CT_PROTOCOL, "CHEST", '=HYPERLINK("http://x")')
    name(store, CT_DESCRIPTION, "Chest", "@SUM(A1)")
    row = csv_rows(client)[uids["second"]]
    assert row["E1 Standard acquisition protocol"] == '\'=HYPERLINK("http://x")'
    assert row["Standard study description"] == "'@SUM(A1)"
    response = client.get("/api/exports/ct.xlsx")
    sheets = read_sheets(response.get_data())
    second = {r["Study instance UID"]: r for r in sheets["All data"]}[uids["second"]]
    assert second["E1 Standard acquisition protocol"] == '=HYPERLINK("http://x")'  # a string cell, no formula
    assert b"<f>" not in sheet_xml(response.get_data())


def test_the_export_log_entry_is_unchanged(client: FlaskClient, store: Store) -> None:
    seed(store)
    name(store, CT_PROTOCOL, "CHEST", "Chest")
    client.get("/api/exports/ct.csv").get_data()
    entry = store.db.event_log.find_one({}, sort=[("seq", -1)])
    assert entry["details"] == {
        "modality": "CT",
        "format": "csv",
        "filters": {"modality": "CT", "test_patients": "exclude"},  # test patients left out, as the log says
        "studies": 2,
        "events": 4,
    }
    assert entry["message"] == "Exported 2 CT studies (4 events) as CSV; filters: test_patients=exclude"
