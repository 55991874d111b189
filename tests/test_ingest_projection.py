"""Projection and radiopharmaceutical reports through the real ingest pipeline and command line."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
import pytest
from pydicom.filebase import DicomBytesIO

from service.ingest.pipeline import Pipeline
from service.storage import Store
from tests.conftest import Runner
from tests.srbuild import num_item, projection_report

#: SR objects of the corpus (RDSR, ESR, RRDSR) and the one that is not a dose report.
NOT_A_DOSE_REPORT = "ESR_non-dose.dcm"


def ingest(pipeline: Pipeline, corpus: Path, name: str) -> str:
    """Ingest one corpus file; return its outcome."""
    return pipeline.ingest((corpus / name).read_bytes(), name=name, via="cli", client="test").outcome


def test_zee_through_the_command_line(runner: Runner, corpus: Path) -> None:
    result = runner.invoke(["extract", corpus / "RF-RDSR-Siemens-Zee.dcm"], MONGODB_URI="mongodb://127.0.0.1:1/")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["modalities"] == ["RF"] and len(document["projection"]["events"]) == 8
    (plane,) = document["projection"]["accumulated"]
    assert plane["dose_area_product_total"] == 1.6e-05 and plane["dose_rp_total"] == 0.00252


def test_every_dose_sr_of_the_corpus_imports(pipeline: Pipeline, store: Store, corpus: Path) -> None:
    names = sorted(p.name for p in corpus.glob("*.dcm") if pydicom.dcmread(p, stop_before_pixels=True).Modality == "SR")
    assert len(names) == 24
    outcomes = {name: ingest(pipeline, corpus, name) for name in names}
    assert [n for n, o in outcomes.items() if o == "rejected"] == [NOT_A_DOSE_REPORT]
    zee = store.get_study(str(pydicom.dcmread(corpus / "RF-RDSR-Siemens-Zee.dcm").StudyInstanceUID))
    assert (zee["summary"]["total_dap"], zee["summary"]["total_rp_dose"]) == (1.6e-05, 0.00252)


def test_dual_modality_unit_makes_a_dx_and_an_rf_study(
    pipeline: Pipeline, store: Store, corpus: Path, scenarios: dict
) -> None:
    step = scenarios["dual_modality_equipment"]["steps"][0]
    studies = []
    for name in step["import"]:
        assert ingest(pipeline, corpus, name) == "created"
        studies.append(store.get_study(str(pydicom.dcmread(corpus / name).StudyInstanceUID)))
    assert [s["modalities"] for s in studies] == [
        [step["expect"]["study[0].modality_type"]],
        [step["expect"]["study[1].modality_type"]],
    ]
    assert studies[0]["equipment"]["device_observer_uid"] == studies[1]["equipment"]["device_observer_uid"]


@pytest.mark.parametrize(
    "order", [["NM-CT-RDSR-Siemens.dcm", "NM-RRDSR-Siemens.dcm"], ["NM-RRDSR-Siemens.dcm", "NM-CT-RDSR-Siemens.dcm"]]
)
def test_pet_ct_reports_make_one_study_in_either_order(
    pipeline: Pipeline, store: Store, corpus: Path, order: list[str]
) -> None:
    assert [ingest(pipeline, corpus, name) for name in order] == ["created", "merged"]
    assert store.count_studies() == 1
    study = store.get_study(str(pydicom.dcmread(corpus / order[0]).StudyInstanceUID))
    assert study["modalities"] == ["CT", "NM"]
    assert len(study["ct"]["events"]) == 2 and len(study["radiopharmaceutical"]["administrations"]) == 1
    assert study["summary"]["total_dlp"] == 667.72 and study["summary"]["total_administered_activity"] == 394


def test_converted_unit_is_named_only_in_the_event_log(pipeline: Pipeline, store: Store) -> None:
    ds = projection_report(
        num_item("122130", "1.034", "dGy.cm2"), accumulated=(num_item("113722", "1.034", "dGy.cm2"),)
    )
    buffer = DicomBytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    outcome = pipeline.ingest(buffer.getvalue(), name="ultimax.dcm", via="http", client="test")
    assert outcome.outcome == "created"
    study = store.get_study(str(ds.StudyInstanceUID))
    assert study["projection"]["events"][0]["dose_area_product"] == 1.034e-05
    assert "dGy" not in json.dumps(study, default=str)
    created = [e for e in store.events_after(0, limit=100) if e["type"] == "created"]
    assert any("converted 1.034 dGy.cm2 to 1.034e-05 Gy.m2" in n for n in created[0]["details"]["notes"])
