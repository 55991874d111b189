"""XLSX per-protocol sheets: a radiopharmaceutical's sheet is its code (issue #13), a CT protocol's its text."""

from __future__ import annotations

import io
from typing import Any

from flask.testing import FlaskClient

from service.export.xlsx import write_xlsx
from service.ingest.document import save_fragment
from service.storage import Store
from tests.auditdata import coded, coded_studies, ct, nuclear
from tests.exporting import NOW, export_of, read_sheets

WHEN = {"when": NOW}
ACTIVITY, AGENT = "Administered activity (MBq)", "Radiopharmaceutical"
FDG = "Fluorodeoxyglucose F^18^"


def sheets_of(docs: list[dict[str, Any]], modality: str = "NM") -> dict[str, list[dict[str, Any]]]:
    """Return the sheets of the XLSX export of ``docs``, Summary as plain rows."""
    target = io.BytesIO()
    write_xlsx(export_of(modality, docs), target, exported_at=NOW)
    return read_sheets(target.getvalue())


def protocol_sheets(sheets: dict[str, list[dict[str, Any]]]) -> dict[str, list[tuple[Any, Any]]]:
    """Return each protocol sheet's (agent, activity) rows, in sheet order."""
    return {name: [(row[AGENT], row[ACTIVITY]) for row in rows] for name, rows in list(sheets.items())[2:]}


def summary_protocols(summary: list[dict[int, Any]]) -> dict[Any, Any]:
    """Return Summary's table of protocols: name -> events."""
    heading = next(i for i, row in enumerate(summary) if row.get(0) == "Study description")
    column = next(k for k, v in summary[heading].items() if v == AGENT)
    rows = summary[heading + 1 :]
    return {row[column]: row[column + 1] for row in rows if row.get(column) is not None}


def test_one_code_sent_with_two_meanings_is_one_sheet_named_by_its_code_point_first_meaning() -> None:
    docs = [
        nuclear(coded("35321007", "SCT", "fluorodeoxyglucose"), 350.0, **WHEN),
        nuclear(coded("35321007", "SCT", FDG), 370.0, **WHEN),
    ]
    sheets = sheets_of(docs)
    # Capitals first: 'Fluoro... F^18^' comes before 'fluorodeoxyglucose' (ignoring case it would not).
    assert protocol_sheets(sheets) == {FDG: [("fluorodeoxyglucose", 350.0), (FDG, 370.0)]}
    assert summary_protocols(sheets["Summary"]) == {FDG: 2}


def test_snomed_rt_and_ct_forms_of_one_code_are_one_sheet() -> None:
    docs = [
        nuclear(coded("35321007", "SCT", FDG), 370.0, **WHEN),
        nuclear(coded(" C-B1031 ", "SRT", "FDG"), 250.0, **WHEN),
    ]
    sheets = sheets_of(docs)
    assert protocol_sheets(sheets) == {"FDG": [(FDG, 370.0), ("FDG", 250.0)]}
    assert summary_protocols(sheets["Summary"]) == {"FDG": 2}


def test_two_codes_sharing_a_meaning_are_two_sheets_named_the_same_whatever_the_study_order() -> None:
    docs = [
        nuclear(coded("35321007", "SCT", "FDG"), 370.0, **WHEN),
        nuclear(coded("FDG-1", "99LOCAL", "FDG"), 200.0, **WHEN),
        nuclear(coded("35321007", "SCT", "FDG"), 380.0, **WHEN),
    ]
    # Codes of one name in code order: (99LOCAL, FDG-1) before (SCT, 35321007).
    expected = {"FDG FDG-1 (99LOCAL)": [("FDG", 200.0)], "FDG 35321007 (SCT)": [("FDG", 370.0), ("FDG", 380.0)]}
    assert protocol_sheets(sheets_of(docs)) == expected
    sheets = sheets_of(docs[::-1])
    assert protocol_sheets(sheets) == {name: rows[::-1] for name, rows in expected.items()}
    assert summary_protocols(sheets["Summary"]) == {"FDG [35321007 (SCT)]": 2, "FDG [FDG-1 (99LOCAL)]": 1}


def test_a_long_shared_name_is_shortened_so_that_its_code_fits() -> None:
    name = "Fluorodeoxyglucose F^18^ (F-18 FDG)"
    docs = [nuclear(coded("35321007", "SCT", name), 370.0, **WHEN), nuclear(coded("X1", "99LOCAL", name), 10.0, **WHEN)]
    names = list(protocol_sheets(sheets_of(docs)))
    assert names == ["Fluorodeoxyglucose X1 (99LOCAL)", "Fluorodeoxygluco 35321007 (SCT)"]  # 31 characters each


def test_an_agent_sent_as_text_only_has_a_sheet_of_its_text() -> None:
    docs = [
        nuclear(None, 600.0, text="Tc99m MDP", **WHEN),
        nuclear(coded("35321007", "SCT", "FDG"), 370.0, **WHEN),
        nuclear(None, 300.0, text="FDG", **WHEN),
        nuclear(None, 650.0, text="Tc99m MDP", **WHEN),
    ]
    sheets = sheets_of(docs)
    # The coded FDG and the text 'FDG' are apart, as in the audits (the code first); no 'No protocol name' sheet.
    assert protocol_sheets(sheets) == {
        "FDG 35321007 (SCT)": [("FDG", 370.0)],
        "FDG": [(None, 300.0)],
        "Tc99m MDP": [(None, 600.0), (None, 650.0)],
    }
    assert summary_protocols(sheets["Summary"]) == {"Tc99m MDP": 2, "FDG [35321007 (SCT)]": 1, "FDG": 1}


def test_a_code_without_meaning_is_named_by_its_text_or_else_its_code() -> None:
    bare = {"code_value": "35321007", "coding_scheme_designator": "SCT"}
    sheets = sheets_of([nuclear(bare, 370.0, **WHEN), nuclear(bare, 380.0, text="FDG (as sent)", **WHEN)])
    assert protocol_sheets(sheets) == {"FDG (as sent)": [("35321007", 370.0), ("35321007", 380.0)]}
    sheets = sheets_of([nuclear(bare, 370.0, **WHEN)])
    assert protocol_sheets(sheets) == {"35321007 (SCT)": [("35321007", 370.0)]}


def test_the_sheets_and_summary_agree_with_the_audits_rows(client: FlaskClient, store: Store) -> None:
    for fragment in coded_studies():
        save_fragment(store, fragment, now=NOW)
    response = client.get("/api/audits/nm_activity_by_agent", query_string={"per_station": "no"})
    rows = response.get_json()["rows"]
    names = [row["name"] for row in rows]
    audit = {
        f"{row['name']} [{row['code']}]" if row["code"] and names.count(row["name"]) > 1 else row["name"]: row["count"]
        for row in rows
    }
    assert audit == {"FDG": 2, "FDG [35321007 (SCT)]": 3, "Fluorodeoxyglucose F^18^": 2}  # as the audit tests say
    response = client.get("/api/exports/nm.xlsx")
    assert response.status_code == 200
    sheets = read_sheets(response.get_data())
    assert summary_protocols(sheets["Summary"]) == audit
    counts = {name: len(found) for name, found in list(sheets.items())[2:]}
    assert counts == {"FDG 35321007 (SCT)": 3, "FDG": 2, "Fluorodeoxyglucose F^18^": 2}  # the code before the text
    assert list(sheets)[2:4] == ["FDG 35321007 (SCT)", "FDG"]


def test_ct_protocol_sheets_still_split_by_text() -> None:
    docs = [
        ct([("Head", 100.0), ("HEAD", 120.0), ("a/b", 10.0)], **WHEN),
        ct([("Head", 90.0), ("Abdomen", 300.0)], **WHEN),
    ]
    sheets = list(sheets_of(docs, "CT").items())[2:]
    rows = {name: [(r["Acquisition protocol"], r["DLP (mGy·cm)"]) for r in found] for name, found in sheets}
    assert rows == {
        "a_b": [("a/b", 10.0)],
        "Abdomen": [("Abdomen", 300.0)],
        "HEAD": [("HEAD", 120.0)],  # capitals first among names equal but for case
        "Head (2)": [("Head", 100.0), ("Head", 90.0)],
    }
