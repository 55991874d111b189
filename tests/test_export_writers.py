"""CSV and XLSX writers: columns from the schema, values and sheet structure read back."""

from __future__ import annotations

import io
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from schemas.study import Study
from service.export.csv import csv_chunks
from service.export.layout import layout
from service.export.spool import Spool
from service.export.xlsx import NO_PROTOCOL, sheet_names, write_xlsx
from service.modalities import MODALITIES
from tests.exporting import (
    NOW,
    ct_files,
    export_of,
    hand_built,
    read_csv,
    read_sheets,
    sheet_xml,
    studies,
    summary_facts,
)


def xlsx_bytes(docs: list[dict[str, Any]], modality: str = "CT") -> bytes:
    target = io.BytesIO()
    write_xlsx(export_of(modality, docs), target, exported_at=NOW)
    return target.getvalue()


def csv_text(docs: list[dict[str, Any]], modality: str = "CT") -> str:
    return "".join(csv_chunks(export_of(modality, docs)))


@pytest.fixture(scope="module")
def ct_studies(corpus: Path) -> list[dict[str, Any]]:
    return studies(ct_files(corpus))


def test_headers_come_from_schema_labels_and_units() -> None:
    ct = layout("CT")
    event_headers = [c.header for c in ct.event_columns]
    assert "Mean CTDIvol (mGy)" in event_headers
    assert "DLP (mGy·cm)" in event_headers
    assert "kVp (kV)" in event_headers
    assert ct.study_headers(2)[-len(event_headers)] == "E2 Irradiation event UID"
    label = Study().fields["patient"].schema.fields["not_patient_indicator"].metadata["label"]
    assert label in [c.header for c in ct.study_columns]


@pytest.mark.parametrize("modality", sorted(MODALITIES))
def test_no_patient_identity_column_in_any_modality(modality: str) -> None:
    headers = " ".join(layout(modality).study_headers(1)).casefold()
    for forbidden in ("patient name", "patient id", "birth"):
        assert forbidden not in headers


@pytest.mark.parametrize("modality", sorted(MODALITIES))
def test_headers_are_unique_in_every_row_kind(modality: str) -> None:
    shape = layout(modality)
    for headers in (shape.event_headers(), shape.study_headers(3)):
        assert len(headers) == len(set(headers))
    assert "Summary: Total fluoro time (s)" in layout("RF").event_headers()
    assert "Accumulated: Total fluoro time (s)" in layout("RF").event_headers()


@pytest.mark.parametrize("modality", sorted(MODALITIES))
def test_summary_columns_are_the_modalitys_own(modality: str) -> None:
    summary = [c.path for c in layout(modality).study_columns if c.path.startswith("summary.")]
    assert summary == [f"summary.{name}" for name in MODALITIES[modality].summary]


def test_csv_holds_one_study_per_row_with_events_to_the_right(ct_studies: list[dict[str, Any]]) -> None:
    rows = read_csv(csv_text(ct_studies))
    by_uid = {row["Study instance UID"]: row for row in rows}
    assert len(rows) == len(ct_studies) == 9
    most = max(len(doc["ct"]["events"]) for doc in ct_studies)
    assert f"E{most} DLP (mGy·cm)" in rows[0] and f"E{most + 1} DLP (mGy·cm)" not in rows[0]
    for doc in ct_studies:
        row = by_uid[doc["study_instance_uid"]]
        assert float(row["Total DLP (mGy·cm)"]) == doc["summary"]["total_dlp"]
        last = doc["ct"]["events"][-1]
        assert float(row[f"E{len(doc['ct']['events'])} DLP (mGy·cm)"]) == last["dlp"]
        assert row["Study date time"] == doc["study_date_time"].isoformat(sep=" ")


def test_csv_dual_source_values_are_joined() -> None:
    doc = hand_built()
    doc["ct"]["events"][0]["sources"].append({"kvp": 100.0})
    row = read_csv(csv_text([doc]))[0]
    assert row["E1 kVp (kV)"] == "120.0 | 100.0"
    assert row["E2 kVp (kV)"] == "120.0"


def test_csv_neutralises_formulas_but_not_numbers() -> None:
    doc = hand_built()
    doc["ct"]["events"][0]["pitch_factor"] = -0.5
    row = read_csv(csv_text([doc]))[0]
    assert row["Station name"] == '\'=HYPERLINK("http://x")'
    assert row["Manufacturer"] == "'-ACME"
    assert row["Study description"] == "'@SUM(A1)"
    assert row["Requested procedure"] == "'+1-2"
    assert row["E1 Pitch factor"] == "-0.5"
    assert row["Test patient?"] == "Phantom"


def test_csv_chunks_stream_rows_as_they_come() -> None:
    docs = [dict(hand_built(), study_instance_uid=f"1.2.{n}") for n in range(450)]
    chunks = list(csv_chunks(export_of("CT", docs)))
    assert len(chunks) == 3  # header + 200, 200, 50 rows
    assert len(read_csv("".join(chunks))) == 450


def test_xlsx_of_ct_corpus_has_summary_all_data_and_protocol_sheets(ct_studies: list[dict[str, Any]]) -> None:
    sheets = read_sheets(xlsx_bytes(ct_studies))
    protocols = Counter(e.get("acquisition_protocol") for doc in ct_studies for e in doc["ct"]["events"])
    assert list(sheets)[:2] == ["Summary", "All data"]
    assert len(sheets["All data"]) == len(ct_studies) == 9
    found = {}
    for rows in list(sheets.values())[2:]:
        (protocol,) = {row["Acquisition protocol"] for row in rows}  # one protocol per sheet
        found[protocol] = len(rows)
    assert found == protocols
    assert list(found) == sorted(protocols, key=lambda p: (p is None, (p or "").casefold()))
    assert len(sheets["4DCT"]) == 2  # Siemens Multi-3: one study, two 4DCT events
    assert len(sheets["100S C_A_P"]) == protocols["100S C/A/P"]  # '/' is not allowed in sheet names
    assert len(sheets[NO_PROTOCOL]) == protocols[None]
    facts = summary_facts(sheets["Summary"])
    assert facts["Studies"] == 9 and facts["Events"] == sum(protocols.values())


def test_xlsx_cells_keep_their_types(ct_studies: list[dict[str, Any]]) -> None:
    sheets = read_sheets(xlsx_bytes(ct_studies))
    protocol = "Neck+CAP+C (SureStart)"
    doc = next(d for d in ct_studies if d["ct"]["events"][0].get("acquisition_protocol") == protocol)
    row = next(r for r in sheets["All data"] if r["Study instance UID"] == doc["study_instance_uid"])
    assert row["E3 Mean CTDIvol (mGy)"] == doc["ct"]["events"][2]["mean_ctdivol"]
    assert isinstance(row["E3 Mean CTDIvol (mGy)"], float)
    assert row["Study date time"] == doc["study_date_time"]
    assert row["Accession number"] == doc["accession_number"]
    assert isinstance(row["Accession number"], str)  # digits stay text


def test_xlsx_summary_counts_descriptions_procedures_and_protocols() -> None:
    docs = [hand_built(), dict(hand_built(), study_instance_uid="1.2.4", study_description="Brain")]
    summary = read_sheets(xlsx_bytes(docs))["Summary"]
    table = summary.index(next(r for r in summary if r.get(0) == "Study description"))
    heading = summary[table]
    assert [heading[i] for i in (0, 1, 3, 4, 6, 7)] == [
        "Study description", "Studies", "Requested procedure", "Studies", "Acquisition protocol", "Events",
    ]  # fmt: skip
    first, second = summary[table + 1], summary[table + 2]
    assert [first[i] for i in (0, 1, 3, 4, 6, 7)] == ["@SUM(A1)", 1, "+1-2", 2, "Head", 6]
    assert (second[0], second[1], second[6], second[7]) == ("Brain", 1, "Neck", 2)


def test_xlsx_writes_formula_like_text_as_text() -> None:
    data = xlsx_bytes([hand_built()])
    sheets = read_sheets(data)
    assert sheets["All data"][0]["Station name"] == '=HYPERLINK("http://x")'
    assert sheets["Head"][0]["Manufacturer"] == "-ACME"
    assert b"<f>" not in sheet_xml(data)


def test_xlsx_protocol_sheets_hold_one_event_per_row() -> None:
    sheets = read_sheets(xlsx_bytes([hand_built()]))
    assert [row["DLP (mGy·cm)"] for row in sheets["Head"]] == [100.0, 150.5, 20.0]
    assert [row["Study instance UID"] for row in sheets["Head"]] == ["1.2.3"] * 3
    assert sheets["Neck"][0]["Date time started"] == datetime(2024, 5, 6, 7, 8, 3)


def test_sheet_names_follow_excels_rules() -> None:
    long = "Thorax abdomen pelvis with contrast"
    keys = [long, long.upper(), "a/b:c*?[d]", "All Data", None, "'quoted'"]
    names = sheet_names(keys, ["Summary", "All data"])
    assert names[long] == long[:31]
    assert names[long.upper()] == long.upper()[:27].rstrip() + " (2)"
    assert names["a/b:c*?[d]"] == "a_b_c___d_"
    assert names["All Data"] == "All Data (2)"
    assert names[None] == NO_PROTOCOL
    assert names["'quoted'"] == "quoted"
    assert all(len(name) <= 31 for name in names.values())


def test_spool_gives_back_what_it_kept_and_counts_it() -> None:
    docs = [hand_built(), dict(hand_built(), study_instance_uid="1.2.4", study_description="Brain")]
    docs[1]["ct"] = {"events": docs[1]["ct"]["events"][3:]}
    flats = [layout("CT").flatten(doc) for doc in docs]
    with Spool([4]) as spool:
        spool.add_all(flats)
        assert list(spool) == flats  # date-times and all, in order
        assert (spool.studies, spool.most_events) == (2, 4)
        assert spool.protocols == {"Head": 3, "Neck": 2}
        assert spool.values == {4: {"@SUM(A1)": 1, "Brain": 1}}
