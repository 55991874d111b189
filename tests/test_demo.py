"""doseledger demo: realistic demonstration studies of every modality, marked as test patients, removed in one go."""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from schemas.study import validate_study
from scripts.cli_demo import EXAMPLE_DIR, EXAMPLE_NAME
from service.demo import DEMO_ROOT, MARK, demo_present, per_modality
from service.demo.rdsr import EXAMPLE_STUDY, example_report
from service.demo.studies import COUNTS, demo_studies
from service.ingest.document import save_fragment
from service.ingest.pipeline import Pipeline
from service.modalities import MODALITIES
from service.storage import Store
from tests.auditdata import NOW, ct
from tests.conftest import Runner
from tests.exporting import read_csv

TODAY = datetime(2026, 3, 10, 9, 30)


@pytest.fixture(scope="module")
def documents() -> list[dict[str, Any]]:
    return demo_studies(TODAY, datetime(2026, 3, 10, 8, 30))


def test_every_list_modality_and_every_study_valid_and_marked(documents: list[dict[str, Any]]) -> None:
    assert set(per_modality(documents)) == set(MODALITIES) and len(documents) == sum(COUNTS.values())
    for document in documents:
        validate_study(document)
        assert document["patient"]["not_patient_indicator"] == MARK
        assert document["study_instance_uid"].startswith(DEMO_ROOT + ".")
        assert document["equipment"]["station_name"].startswith("DEMO-")
        assert TODAY - timedelta(days=121) < document["study_date_time"] < TODAY.replace(hour=0, minute=0)
    assert len({d["study_instance_uid"] for d in documents}) == len(documents)
    events = [
        e["irradiation_event_uid"]
        for d in documents
        for s in ("ct", "projection")
        for e in d.get(s, {}).get("events", [])
    ]
    assert len(set(events)) == len(events)
    assert demo_studies(TODAY, datetime(2026, 3, 10, 8, 30)) == documents  # reproducible


def test_values_are_plausible(documents: list[dict[str, Any]]) -> None:
    def summaries(key: str) -> list[dict[str, Any]]:
        return [d["summary"] for d in documents if key in d["modalities"]]

    ct_events = [e for d in documents for e in d.get("ct", {}).get("events", [])]
    assert all(0.02 <= e["mean_ctdivol"] <= 120 and e["dlp"] > 0 for e in ct_events)  # localisers: 0.02-0.2
    heads = [e["mean_ctdivol"] for e in ct_events if e["acquisition_protocol"] == "Head routine"]
    chests = [e["mean_ctdivol"] for e in ct_events if e["acquisition_protocol"] == "Chest"]
    assert 35 < sorted(heads)[len(heads) // 2] < 65 and 4 < sorted(chests)[len(chests) // 2] < 12
    assert all(1 < s["total_dlp"] < 3000 for s in summaries("CT"))
    assert all(1e-4 < s["total_dap"] < 0.05 and 0.005 < s["total_rp_dose"] < 8 for s in summaries("RF"))  # Gy·m², Gy
    assert all(s["total_fluoro_time"] > 10 for s in summaries("RF"))
    assert all(1e-7 < s["total_dap"] < 5e-4 for s in summaries("DX"))
    agd = [
        e["average_glandular_dose"] for d in documents if d["modalities"] == ["MG"] for e in d["projection"]["events"]
    ]
    assert all(0.5 < dose < 5 for dose in agd)
    assert all(40 <= s["total_administered_activity"] <= 800 for s in summaries("NM"))
    ages = [d["patient"]["age_years"] for d in documents]
    assert all(4 <= age <= 95 for age in ages) and {d["patient"]["sex"] for d in documents} == {"F", "M"}
    ct_study = next(d for d in documents if d["modalities"] == ["CT"])
    assert math.isclose(ct_study["summary"]["total_dlp"], sum(e["dlp"] for e in ct_study["ct"]["events"]), rel_tol=1e-9)
    assert any(d["modalities"] == ["CT", "NM"] for d in documents)  # PET/CT: both reports in one study
    assert any(s["total_rp_dose"] > 2 for s in summaries("RF"))  # the alerts table has something to show


def test_working_days_and_hours_mostly(documents: list[dict[str, Any]]) -> None:
    weekdays = Counter(d["study_date_time"].weekday() < 5 for d in documents)
    hours = Counter(8 <= d["study_date_time"].hour < 18 for d in documents)
    assert weekdays[True] > 0.85 * len(documents) and hours[True] > 0.8 * len(documents)
    assert weekdays[False] > 0  # the emergency department works at weekends


def test_the_example_report_imports_as_a_marked_ct_study(pipeline: Pipeline, store: Store) -> None:
    data = example_report(TODAY, "DEMO-PHY-TEST-QA")
    outcome = pipeline.ingest(data, name="demo-ct-report.dcm", via="cli", client="test")
    assert outcome.outcome == "created" and outcome.study_instance_uid == EXAMPLE_STUDY
    study = store.get_study(EXAMPLE_STUDY)
    assert study["patient"]["not_patient_indicator"] == "IDs: phy qa test | Names: "
    assert [e["acquisition_protocol"] for e in study["ct"]["events"]] == ["Localiser", "Chest"]
    assert study["summary"]["total_dlp"] == pytest.approx(sum(e["dlp"] for e in study["ct"]["events"]))
    assert study["study_date_time"] == datetime(2026, 3, 9, 10, 30)
    assert study["ct"]["events"][1]["sources"][0]["kvp"] == 110 and study["ct"]["events"][1]["pitch_factor"] == 0.98


def csv_rows(client: FlaskClient, url: str) -> list[dict[str, str]]:
    return read_csv(client.get(url).get_data(as_text=True))


def test_demo_adds_logs_hides_from_reports_and_removes(
    runner: Runner, client: FlaskClient, store: Store, tmp_path: Path
) -> None:
    real = ct([("CHEST", 300.0)], when=datetime(2026, 1, 5))
    save_fragment(store, real, now=NOW)
    lookalike = ct([("CHEST", 1.0)], when=datetime(2026, 1, 5))  # under the root but not marked: never removed
    save_fragment(store, {**lookalike, "study_instance_uid": f"{DEMO_ROOT}.9.1"}, now=NOW)
    added = runner.invoke(["demo", "--example-dir", tmp_path])
    assert added.exit_code == 0, added.stderr
    lines = added.stdout.splitlines()
    in_ct = per_modality(demo_present(store))["CT"]  # CT studies and the CT of PET/CT studies
    assert lines[0].startswith(f"Added 198 demonstration studies (CT {in_ct}, RF 24, DX 60, MG 30, NM 24)")
    example = tmp_path / "demo-ct-report.dcm"
    assert lines[1] == f"Wrote an example CT dose report to {example}; import it with: doseledger import {example}"
    assert lines[-1] == "Remove them all with: doseledger demo --remove"
    logged = [e for e in store.events_after(0, limit=1000) if e["type"] == "demo"]
    assert len(logged) == 198 and {e["outcome"] for e in logged} == {"created"} and logged[0]["via"] == "cli"
    assert {row["modality"]: row["count"] for row in store.tallies() if row["station_name"] == "DEMO-MAMMO1"} == {
        "MG": 30
    }

    listed = client.get("/api/studies?modality=CT&page_size=500").get_json()
    assert listed["total"] == in_ct + 2  # the demonstration studies, the real one, the look-alike
    exported = {r["Study instance UID"] for r in csv_rows(client, "/api/exports/ct.csv")}
    assert exported == {real["study_instance_uid"], f"{DEMO_ROOT}.9.1"}  # test patients left out
    assert len(csv_rows(client, "/api/exports/ct.csv?test_patients=only")) == in_ct
    audit = client.get("/api/audits/ct_dlp_by_protocol?per_station=no").get_json()["rows"]
    assert [(row["name"], row["count"]) for row in audit] == [("CHEST", 2)]
    shown = client.get("/api/audits/ct_dlp_by_protocol?per_station=no&test_patients=only").get_json()["rows"]
    assert sum(row["count"] for row in shown) > in_ct  # a localiser and a scan or more each
    high = "/api/audits/high_dose_alerts?test_patients=only"
    assert client.get(high).get_json()["rows"] == []  # none reaches the shipped rules' 5 Gy or 500 Gy·cm²
    rule = {"name": "RP 2 Gy", "kind": "study_total", "modality": "RF", "quantity": "total_rp_dose", "level": 2,
            "unit": "Gy"}  # fmt: skip
    assert client.put("/api/alert-rules", json={"rules": [rule]}).status_code == 200
    alerts = client.get(high).get_json()["rows"]
    assert alerts and all(row["station"] == "DEMO-CATHLAB1" for row in alerts)

    again = runner.invoke(["demo", "--example-dir", tmp_path])
    assert (
        again.stdout.startswith("The 198 demonstration studies are already there") and len(demo_present(store)) == 198
    )
    imported = runner.invoke(["import", example])
    assert imported.stdout.startswith("1 created,")
    originals = store.count_originals()

    removed = runner.invoke(["demo", "--remove", "--example-dir", tmp_path])
    assert removed.exit_code == 0
    assert removed.stdout.splitlines() == [
        f"Removed 199 demonstration studies (CT {in_ct + 1}, RF 24, DX 60, MG 30, NM 24); the event log records each.",
        f"Deleted the example dose report {example}.",
    ]
    assert not example.exists() and store.count_originals() == originals - 1
    left = client.get("/api/studies?page_size=500").get_json()["items"]
    assert sorted(item["study_instance_uid"] for item in left) == sorted(
        [real["study_instance_uid"], f"{DEMO_ROOT}.9.1"]
    )
    assert {(row["station_name"], row["count"]) for row in store.tallies()} == {("ST1", 2)}
    deleted = [e for e in store.events_after(0, limit=2000) if e["type"] == "demo" and e["outcome"] == "deleted"]
    assert len(deleted) == 199 and EXAMPLE_STUDY in {e["study_instance_uid"] for e in deleted}
    nothing = runner.invoke(["demo", "--remove", "--example-dir", tmp_path])
    assert nothing.stdout == "There are no demonstration studies to remove; add them with: doseledger demo\n"


def test_the_readme_quick_start_works_as_written() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = [block.split("```", 1)[0] for block in quick.split("```sh\n")[1:]]
    commands = [line.split("#")[0].strip() for line in blocks[0].splitlines()]
    assert commands == ["make run", "make test"]  # exactly two commands, each doing its own setup
    later = [line.strip() for block in blocks[1:] for line in block.splitlines() if line.strip()]
    assert later and not [line for line in later if line.startswith("doseledger")]  # not on the PATH
    assert "make demo" in later[0] and f"{EXAMPLE_DIR / EXAMPLE_NAME}" in later[1]
    assert later[1].startswith(".venv/bin/doseledger import ")
