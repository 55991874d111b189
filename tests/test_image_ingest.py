"""Image headers through the one ingest pipeline: the whole corpus, and images without dose."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from service.storage import Store
from tests.conftest import Runner
from tests.samples import image, to_bytes

GE_PAIR_STUDY = "1.3.6.1.4.1.5962.99.1.1270844358.1571783457.1525984267206.3.0"
DX_STUDIES = {  # scenario dx_images_two_studies (plus DX-Im-Date-Missing.dcm, a study of its own)
    "1.3.6.1.4.1.5962.99.1.2282339064.1266597797.1479751121656.24.0": 3,
    "1.2.276.0.7230010.3.1.2.8323329.11564.1483691867.34530": 2,
}
PET_CT_STUDY = "1.2.840.113619.6.95.31.0.3.4.1.4400.13.8620675"


def test_importing_every_corpus_object_rejects_only_the_non_dose_sr(runner: Runner, store: Store, corpus: Path) -> None:
    result = runner.invoke(["import", *sorted(corpus.glob("*.dcm"))])
    lines = result.stdout.splitlines()
    assert result.exit_code == 1
    assert lines[1:] == [
        f"rejected (not-a-dose-object): {corpus / 'ESR_non-dose.dcm'} was rejected: it is not a dose report: "
        "its document title is (18748-4, LN) Diagnostic Imaging Report"
    ]
    pair = store.get_study(GE_PAIR_STUDY)
    assert pair["summary"]["number_of_events"] == 1 and len(pair["reports"]) == 2
    assert pair["summary"]["total_agd_left"] == pytest.approx(0.547)
    for uid, events in DX_STUDIES.items():
        assert store.get_study(uid)["summary"]["number_of_events"] == events
    pet_ct = store.get_study(PET_CT_STUDY)
    assert pet_ct["modalities"] == ["CT", "NM"]
    assert len(pet_ct["radiopharmaceutical"]["administrations"]) == 1  # the PET image joined the report's
    sizes = runner.invoke(["patient-sizes", corpus / "pt_size_import.csv", "Acc num", "height", "weight"])
    assert sizes.stdout.splitlines()[0].endswith("3 rows: 1 updated, 1 unchanged, 1 no such study, 0 unreadable value")


UNKNOWN = {
    "capture.dcm": (
        ("1.2.840.10008.5.1.4.1.1.7", "OT"),
        "Secondary Capture Image Storage (Modality OT) without an Exposure Dose",
    ),
    "nm.dcm": (
        ("1.2.840.10008.5.1.4.1.1.20", "NM"),
        "Nuclear Medicine Image Storage (Modality NM) without a Radiopharmaceutical Information",
    ),
}


@pytest.mark.parametrize("name", sorted(UNKNOWN))
def test_images_without_dose_are_refused_over_http(client: FlaskClient, store: Store, name: str) -> None:
    kind, says = UNKNOWN[name]
    response = client.post(
        "/api/imports", data=to_bytes(image(*kind)), content_type="application/dicom", headers={"X-Filename": name}
    )
    body = response.get_json()
    assert (response.status_code, body["code"]) == (422, "not-a-dose-object")
    assert body["message"].startswith(f"{name} was rejected: it is {says}")
    assert store.count_originals() == 1  # kept all the same


def test_images_without_dose_are_refused_by_the_cli(runner: Runner, store: Store, tmp_path: Path) -> None:
    for name, (kind, _says) in UNKNOWN.items():
        (tmp_path / name).write_bytes(to_bytes(image(*kind)))
    result = runner.invoke(["import", tmp_path])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "0 created, 0 merged, 0 duplicate, 2 rejected"
    for name, (_kind, says) in UNKNOWN.items():
        assert f"rejected (not-a-dose-object): {tmp_path / name} was rejected: it is {says}" in "\n".join(lines)
