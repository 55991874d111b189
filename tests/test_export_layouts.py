"""Exports wider than a spreadsheet: the long CSV (one event per row) and the refusal of a too-wide one."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient
from pydicom.dataset import Dataset

from service.export.core import MAX_COLUMNS
from service.export.layout import layout
from service.ingest.pipeline import Pipeline
from service.storage import Store
from tests.conftest import Runner
from tests.exporting import read_csv, read_sheets, summary_facts
from tests.samples import to_bytes
from tests.srbuild import code_item, container, num_item, sr_dataset, uid_item

FLUOROSCOPY = ("44491008", "SCT", "Fluoroscopy")
SINGLE_PLANE = ("113622", "DCM", "Single Plane")


def fluoroscopy_report(events: int, *, study_uid: str | None = None) -> Dataset:
    """Return an RF dose report (TID 10001) of ``events`` fluoroscopy events, event n of DAP n µGy·m² (n cGy·cm²)."""
    items = [
        container(
            "113706",
            code_item("113764", SINGLE_PLANE),
            uid_item("113769", f"1.2.826.0.1.3680043.10.1.{n}"),
            code_item("113721", FLUOROSCOPY, "CONTAINS"),
            num_item("122130", f"{n}e-6", "Gy.m2"),
        )
        for n in range(1, events + 1)
    ]
    planes = container("113702", code_item("113764", SINGLE_PLANE))
    return sr_dataset([code_item("121058", ("113704", "DCM", "Projection X-Ray")), planes, *items], study_uid=study_uid)


#: The study of issue 15: 316 fluoroscopy events give 38 study columns (the study description's standard
#: name among them) and 316 groups of 52 event columns (with the protocol's standard name): 16,470.
EVENTS, WIDE_COLUMNS = 316, 16_470


@pytest.fixture
def wide_study(pipeline: Pipeline) -> int:
    """Ingest one RF study too wide for a spreadsheet and one of two events; return the wide one's events."""
    events = EVENTS
    for name, report in (("wide.dcm", fluoroscopy_report(events)), ("small.dcm", fluoroscopy_report(2))):
        assert pipeline.ingest(to_bytes(report), name=name, via="cli", client="t").outcome == "created"
    return events


def test_a_wide_csv_beyond_excels_columns_is_refused_naming_its_width(
    client: FlaskClient, store: Store, wide_study: int
) -> None:
    response = client.get("/api/exports/rf.csv")
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "too-wide" and "layout=events" in body["message"]
    assert f"would have 16,470 columns (the study with most events has {wide_study})" in body["message"]
    assert (len(layout("RF").study_columns) + 1) + wide_study * (len(layout("RF").event_columns) + 1) == WIDE_COLUMNS
    entry = store.events_after(0, limit=1000)[-1]
    assert (entry["type"], entry["outcome"], entry["details"]["columns"]) == ("export", "refused", WIDE_COLUMNS)


def test_the_long_csv_has_one_event_per_row_with_its_studys_columns(client: FlaskClient, wide_study: int) -> None:
    response = client.get("/api/exports/rf.csv?layout=events")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    rows = read_csv(response.get_data(as_text=True))
    assert len(rows) == wide_study + 2
    assert len(rows[0]) < 200  # a spreadsheet opens it
    by_study: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_study.setdefault(row["Study instance UID"], []).append(row)
    assert sorted(len(found) for found in by_study.values()) == [2, wide_study]
    wide = max(by_study.values(), key=len)
    dap = sorted(float(row["DAP (cGy·cm²)"]) for row in wide)
    assert dap == pytest.approx(list(range(1, wide_study + 1)))  # n µGy·m² is n cGy·cm²
    totals = [float(row["Total DAP (cGy·cm²)"]) for row in wide]  # the study's columns on every row of its events
    assert totals == pytest.approx([sum(range(1, wide_study + 1))] * wide_study)


def test_an_unknown_layout_is_refused(client: FlaskClient) -> None:
    response = client.get("/api/exports/rf.csv?layout=tall")
    assert response.status_code == 400 and "layout" in response.get_json()["errors"]
    response = client.get("/api/exports/rf.xlsx?layout=events")
    assert response.status_code == 400 and "protocol sheets" in response.get_json()["message"]


def test_the_wide_xlsx_says_what_all_data_leaves_out(client: FlaskClient, store: Store, wide_study: int) -> None:
    response = client.get("/api/exports/rf.xlsx")
    assert response.status_code == 200
    sheets = read_sheets(response.get_data())
    facts = summary_facts(sheets["Summary"])
    assert f"of up to {wide_study} events of each study" in facts["Note"]
    assert max(len(row) for row in sheets["All data"]) <= MAX_COLUMNS
    assert sum(len(rows) for name, rows in sheets.items() if name not in ("Summary", "All data")) == wide_study + 2
    entry = store.events_after(0, limit=1000)[-1]
    assert entry["outcome"] == "exported" and "Excel's 16,384 columns" in entry["message"]
    assert entry["details"]["notes"]


def test_cli_export_long_csv_and_refusal(runner: Runner, store: Store, wide_study: int, tmp_path: Path) -> None:
    target = tmp_path / "rf.csv"
    refused = runner.invoke(["export", "rf", "-o", target])
    assert refused.exit_code == 2 and "--layout events" in refused.stderr and "columns" in refused.stderr
    assert not target.exists()
    done = runner.invoke(["export", "rf", "-o", target, "--layout", "events"])
    assert done.exit_code == 0, done.stderr
    assert f"({wide_study + 2} events, one event per row)" in done.stdout
    assert len(read_csv(target.read_text(encoding="utf-8"))) == wide_study + 2
    assert store.events_after(0, limit=1000)[-1]["details"]["layout"] == "events"
