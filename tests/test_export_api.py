"""Exports over HTTP and the command line: imported studies round-trip through CSV and XLSX."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.export import export_bytes
from service.export.csv import CHUNK_ROWS
from service.export.layout import layout
from service.export.readahead import read_ahead
from service.ingest.pipeline import Pipeline
from service.storage import Store
from tests.conftest import Runner
from tests.exporting import NOW, ct_files, export_of, hand_built, read_csv, read_sheets, summary_facts
from tests.samples import ct_report, to_bytes

#: One corpus report per list modality, and a value its export must show: (column, document path, factor).
ONE_PER_MODALITY = {
    "CT": ("CT-RDSR-Siemens_Flash-TAP-SS.dcm", "Total DLP (mGy·cm)", "summary.total_dlp", 1),
    "RF": ("RF-RDSR-Siemens-Zee.dcm", "Total DAP (cGy·cm²)", "summary.total_dap", 1e6),
    "DX": ("DX-RDSR-Canon_CXDI.dcm", "Total DAP (cGy·cm²)", "summary.total_dap", 1e6),
    "MG": ("MG-RDSR-Hologic_2D.dcm", "AGD left (mGy)", "summary.total_agd_left", 1),
    "NM": ("NM-RRDSR-Siemens.dcm", "Summary: Administered activity (MBq)", "summary.total_administered_activity", 1),
}


def ingest(pipeline: Pipeline, paths: list[Path]) -> None:
    for path in paths:
        assert not pipeline.ingest(path.read_bytes(), name=path.name, via="cli", client="test").rejected


def value_at(document: dict[str, Any], path: str) -> Any:
    for key in path.split("."):
        document = document[key]
    return document


def last_event(store: Store) -> dict[str, Any]:
    return store.db.event_log.find_one({}, sort=[("seq", -1)])


@pytest.mark.parametrize("modality", sorted(ONE_PER_MODALITY))
def test_csv_and_xlsx_of_each_modality_show_the_documents_values(
    client: FlaskClient, pipeline: Pipeline, store: Store, corpus: Path, modality: str
) -> None:
    name, column, path, factor = ONE_PER_MODALITY[modality]
    ingest(pipeline, [corpus / name])
    response = client.get(f"/api/exports/{modality.lower()}.csv")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv" and response.mimetype_params["charset"] == "utf-8"
    (row,) = read_csv(response.get_data(as_text=True))
    document = store.get_study(row["Study instance UID"])
    assert float(row[column]) == pytest.approx(value_at(document, path) * factor, rel=1e-12)
    assert row["Station name"] == (document["equipment"].get("station_name") or "")
    assert "Test patient?" in row
    sheets = read_sheets(client.get(f"/api/exports/{modality.lower()}.xlsx").get_data())
    assert sheets["All data"][0][column] == pytest.approx(float(row[column]), rel=1e-12)  # a number
    shape = layout(modality)
    named = [event.get(shape.shape.protocol) for event in shape.events(document)]
    expected = Counter(name["code_meaning"] if isinstance(name, dict) else name for name in named)
    found = {rows[0][shape.protocol_header]: len(rows) for rows in list(sheets.values())[2:]}
    assert found == expected and sum(found.values()) == len(shape.events(document)) > 0


def test_xlsx_of_the_ct_corpus_has_the_three_kinds_of_sheet(
    client: FlaskClient, pipeline: Pipeline, store: Store, corpus: Path
) -> None:
    ingest(pipeline, ct_files(corpus))
    response = client.get("/api/exports/ct.xlsx?test_patients=include")  # three are physicists' test objects
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    sheets = read_sheets(response.get_data())
    documents = [store.get_study(row["Study instance UID"]) for row in sheets["All data"]]
    assert len(documents) == store.db.studies.count_documents({"modalities": "CT"}) == 9
    protocols = Counter(e.get("acquisition_protocol") for doc in documents for e in doc["ct"]["events"])
    per_sheet = {rows[0]["Acquisition protocol"]: len(rows) for rows in list(sheets.values())[2:]}
    assert per_sheet == protocols
    assert next(iter(sheets)) == "Summary" and summary_facts(sheets["Summary"])["Studies"] == 9
    assert sheets["All data"][0]["Study date time"] == documents[0]["study_date_time"]  # a date, newest first


def test_filtered_export_holds_exactly_the_filtered_list(
    client: FlaskClient, pipeline: Pipeline, store: Store, corpus: Path
) -> None:
    ingest(pipeline, ct_files(corpus))
    arguments = {"manufacturer": "siemens", "date_from": "2018-01-01", "test_patients": "exclude"}  # exports' default
    page = client.get("/api/studies", query_string={"modality": "CT", "page_size": 500, **arguments}).json
    listed = [item["study_instance_uid"] for item in page["items"]]
    rows = read_csv(client.get("/api/exports/ct.csv", query_string=arguments).get_data(as_text=True))
    assert [row["Study instance UID"] for row in rows] == listed  # the same studies, in the same order
    assert 0 < len(listed) < store.db.studies.count_documents({"modalities": "CT"})
    entry = last_event(store)
    assert entry["type"] == "export" and entry["via"] == "http" and entry["client"] == "tester[token tests]@127.0.0.1"
    assert entry["outcome"] == "exported"
    assert entry["details"] == {"modality": "CT", "format": "csv", "studies": len(listed),
                                "events": sum(int(r["No. events"]) for r in rows),
                                "filters": {"modality": "CT", **arguments}}  # fmt: skip
    assert "manufacturer=siemens" in entry["message"]
    for order in ("study_description", "-station_name"):
        page = client.get("/api/studies", query_string={"modality": "CT", "page_size": 500, "order": order}).json
        asked = {"order": order, "test_patients": "include"}  # the lists show test patients, exports if asked
        data = client.get("/api/exports/ct.xlsx", query_string=asked).get_data()
        exported = [row["Study instance UID"] for row in read_sheets(data)["All data"]]
        assert exported == [item["study_instance_uid"] for item in page["items"]]


def test_formula_text_from_dicom_is_neutralised(client: FlaskClient, pipeline: Pipeline, store: Store) -> None:
    report = ct_report()
    report.StationName = "=1+2"
    report.InstitutionName = "@SUM(A1)"
    assert not pipeline.ingest(to_bytes(report), name="formula.dcm", via="cli", client="test").rejected
    row = read_csv(client.get("/api/exports/ct.csv").get_data(as_text=True))[0]
    assert (row["Station name"], row["Institution"]) == ("'=1+2", "'@SUM(A1)")
    assert float(row["E1 DLP (mGy·cm)"]) == 100.0
    sheets = read_sheets(client.get("/api/exports/ct.xlsx").get_data())
    assert sheets["All data"][0]["Station name"] == "=1+2"  # a string cell, never a formula
    assert sheets["Chest routine"][0]["DLP (mGy·cm)"] == 100.0


def test_bad_arguments_are_refused_naming_them(client: FlaskClient, store: Store) -> None:
    response = client.get("/api/exports/ct.csv?station=x")
    assert response.status_code == 400 and "station" in response.get_json()["errors"]
    response = client.get("/api/exports/xx.csv")
    assert response.status_code == 400 and "modality" in response.get_json()["errors"]
    assert client.get("/api/exports/ct.pdf").status_code == 404
    assert last_event(store) is None


def test_cli_export_writes_the_file_and_logs_the_user(
    runner: Runner, pipeline: Pipeline, store: Store, corpus: Path, tmp_path: Path
) -> None:
    ingest(pipeline, ct_files(corpus))
    target = tmp_path / "ct.xlsx"
    result = runner.invoke(["export", "ct", "-o", target, "--acquisition-protocol", "4dct"])
    assert result.exit_code == 0, result.stderr
    sheets = read_sheets(target.read_bytes())
    assert len(sheets["All data"]) == 1 and len(sheets["4DCT"]) == 2
    assert "Exported 1 CT studies (3 events)" in result.stdout
    entry = last_event(store)
    assert entry["via"] == "cli" and "@" in entry["client"] and entry["details"]["filters"]["acquisition_protocol"]
    csv_file = tmp_path / "ct.txt"
    assert runner.invoke(["export", "CT", "--format", "csv", "-o", csv_file]).exit_code == 0
    assert len(read_csv(csv_file.read_text(encoding="utf-8"))) == 7  # two physicists' test studies left out
    assert (
        runner.invoke(["export", "CT", "-o", csv_file, "--format", "csv", "--test-patients", "include"]).exit_code == 0
    )
    assert len(read_csv(csv_file.read_text(encoding="utf-8"))) == 9


def test_cli_export_refuses_bad_input_and_leaves_no_file(runner: Runner, store: Store, tmp_path: Path) -> None:
    result = runner.invoke(["export", "ct", "-o", tmp_path / "out.pdf"])
    assert result.exit_code == 2 and "--format" in result.stderr
    result = runner.invoke(["export", "ct", "-o", tmp_path / "out.csv", "--date-from", "yesterday"])
    assert result.exit_code == 2 and "date_from" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_export_stopped_early_is_logged_as_aborted(store: Store) -> None:
    docs = [dict(hand_built(), study_instance_uid=f"1.2.{n}") for n in range(CHUNK_ROWS * 3)]
    export = export_of("CT", docs)
    export.studies = read_ahead(iter(docs))
    chunks = export_bytes(store, export, "csv", via="http", client="10.0.0.7", exported_at=NOW)
    assert next(chunks).startswith("\ufeff".encode())
    assert last_event(store) is None  # recorded when the bytes are out, not before
    chunks.close()  # the client went away
    assert all(thread.name != "read-ahead" for thread in threading.enumerate())  # reading stopped too
    entry = last_event(store)
    assert (entry["outcome"], entry["client"], entry["details"]["studies"]) == ("aborted", "10.0.0.7", CHUNK_ROWS)
    assert entry["message"].startswith(f"Stopped after {CHUNK_ROWS} CT studies")
