"""The Storage SCP over the real ingest pipeline and database, with storescu as the modality.

Whatever arrives over DICOM must give the same studies as ``doseledger import``
of the same files (the ``imported`` fixture; tests/arrivals.py says what is
compared).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest

from service.config import load_settings
from service.dicomnet.scp import StorageSCP
from service.ingest.pipeline import Pipeline
from service.storage import Store
from service.storage.embedded import EmbeddedServer, free_port
from tests import dcmtk
from tests.arrivals import Received, corpus_files, received, studies
from tests.conftest import ROOT
from tests.samples import ct_report, ct_report_bytes, image_without_dose, to_bytes
from tests.signin import make_user


def by_study(files: list[Path]) -> dict[str, list[Path]]:
    """Group files by Study Instance UID, keeping their order."""
    groups: dict[str, list[Path]] = {}
    for path in files:
        groups.setdefault(str(pydicom.dcmread(path, stop_before_pixels=True).StudyInstanceUID), []).append(path)
    return groups


def test_the_corpus_in_one_association_makes_the_studies_an_import_makes(
    corpus: Path, scp: StorageSCP, store: Store, imported: Received
) -> None:
    answers = dcmtk.storescu(scp.port, corpus_files(corpus), calling="CT_SCANNER")
    assert set(answers.values()) == {"Success"} and len(answers) == len(corpus_files(corpus))
    assert received(store) == imported
    entries = store.events_after(0, limit=1000)
    assert {(entry["via"], entry["client"]) for entry in entries} == {("dicom", "CT_SCANNER@127.0.0.1")}
    assert all(store.has_original(entry["sha256"]) for entry in entries if entry["type"] == "rejected")


def test_the_corpus_over_parallel_associations_makes_the_same_studies(
    corpus: Path, scp: StorageSCP, store: Store, imported: Received
) -> None:
    """Four modalities send at once, each the whole of some studies in the order an import reads them.

    (Which report of a study arrives last sets some study-level fields, so each
    study's objects keep the import's order; concurrent writes to one study are
    the store's own tests.)
    """
    shares: list[list[Path]] = [[], [], [], []]
    for index, files in enumerate(by_study(corpus_files(corpus)).values()):
        shares[index % 4] += files
    senders = [dcmtk.start_storescu(scp.port, share, calling=f"SENDER{n}") for n, share in enumerate(shares)]
    answers = {}
    for sender in senders:
        answers.update(dcmtk.responses(sender.communicate(timeout=300)[1]))
    assert answers == {path.name: "Success" for path in corpus_files(corpus)}
    assert received(store) == imported


def test_an_object_sent_over_http_then_by_c_store_is_a_duplicate(
    tmp_path: Path, scp: StorageSCP, pipeline: Pipeline, store: Store
) -> None:
    path = tmp_path / "report.dcm"
    path.write_bytes(to_bytes(ct_report(dlp="42")))
    first = pipeline.ingest(path.read_bytes(), name=path.name, via="http", client="10.0.0.1")
    assert dcmtk.storescu(scp.port, [path], calling="CT_SCANNER") == {path.name: "Success"}
    last = store.events_after(0, limit=100)[-1]
    assert (last["type"], last["via"]) == ("duplicate", "dicom")
    document = store.get_study(first.study_instance_uid or "")
    assert document["revision"] == 1 and [r["via"] for r in document["reports"]] == ["http"]


def test_an_object_over_the_size_limit_is_refused_unread(tmp_path: Path, store: Store) -> None:
    """The SCP spools each data set to a file and checks its size before anything reads it."""
    dcmtk.require("storescu")
    small, large = ct_report(dlp="42"), ct_report(dlp="43")
    large.ImageComments = "x" * 20_000
    paths = [tmp_path / "small.dcm", tmp_path / "large.dcm"]
    for ds, path in zip((small, large), paths, strict=True):
        path.write_bytes(to_bytes(ds))
    pipeline = Pipeline(store, max_bytes=10_000, not_patient_patterns=())
    reads: list[str] = []
    read_bytes = Path.read_bytes

    def counted_read(path: Path) -> bytes:
        reads.append(path.name)
        return read_bytes(path)

    server = StorageSCP.for_pipeline(pipeline, load_settings({}), port=0)
    server.start()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Path, "read_bytes", counted_read)
            answers = dcmtk.storescu(server.port, paths)
    finally:
        server.stop(grace=0)
    assert answers == {"small.dcm": "Success", "large.dcm": "Refused: OutOfResources"}
    assert len(reads) == 1  # the small one's spool file; the large one was never read
    [refused] = [entry for entry in store.events_after(0) if entry["type"] == "rejected"]
    assert refused["name"] == large.SOPInstanceUID and refused["code"] == "too-large"
    assert "more than the limit of 10000 bytes" in refused["message"]
    assert store.count_originals() == 1  # the small report's


def test_a_refused_association_is_in_the_event_log(corpus: Path, pipeline: Pipeline, store: Store) -> None:
    dcmtk.require("storescu")
    settings = load_settings({"DOSELEDGER_SCP_ALLOWED_AE_TITLES": "CT_SCANNER"})
    server = StorageSCP.for_pipeline(pipeline, settings, port=0)
    server.start()
    try:
        done = dcmtk.run_storescu(server.port, corpus_files(corpus)[:1], calling="INTRUDER")
    finally:
        server.stop(grace=0)
    assert "Association Rejected" in done.stderr
    [entry] = store.events_after(0)
    assert (entry["type"], entry["via"], entry["client"]) == ("association-refused", "dicom", "INTRUDER@127.0.0.1")
    assert "INTRUDER" in entry["message"] and "DOSELEDGER_SCP_ALLOWED_AE_TITLES" in entry["message"]


@pytest.fixture
def own_database(tmp_path: Path) -> Iterator[EmbeddedServer]:
    """A SecantusDB server of this test alone, which it may stop and start."""
    server = EmbeddedServer(tmp_path / "db", free_port())
    server.start(timeout=60)
    yield server
    server.stop()


def test_nothing_is_lost_or_doubled_when_the_database_stops_mid_way(
    corpus: Path, own_database: EmbeddedServer, imported: Received, monkeypatch: pytest.MonkeyPatch
) -> None:
    dcmtk.require("storescu")
    store = Store.connect(own_database.uri, "doseledger", timeout=0.5)
    store.ensure_indexes()
    pipeline = Pipeline.from_settings(store, load_settings())
    files = [corpus / f"CT-RDSR-Siemens-Multi-{n}.dcm" for n in (1, 2, 3)] + corpus_files(corpus)[:4]
    ingest, calls = pipeline.ingest, []

    def ingest_then_stop_the_database(data: bytes, **arrival: str) -> Any:
        calls.append(arrival["name"])
        if len(calls) == 4:
            own_database.stop()
        return ingest(data, **arrival)

    monkeypatch.setattr(pipeline, "ingest", ingest_then_stop_the_database)
    server = StorageSCP.for_pipeline(pipeline, load_settings({}), port=0)
    server.start()
    try:
        first = dcmtk.storescu(server.port, files)
        own_database.start(timeout=60)
        acknowledged = studies(store)
        second = dcmtk.storescu(server.port, files)
        received = studies(store)
    finally:
        server.stop(grace=0)
        store.close()
    assert list(first.values()) == ["Success"] * 3 + ["Refused: OutOfResources"] * (len(files) - 3)
    reference = imported.studies
    [(multi, study)] = acknowledged.items()  # written before the database stopped
    assert study == reference[multi]
    assert set(second.values()) == {"Success"}
    assert received == {uid: reference[uid] for uid in received}


@pytest.mark.parametrize("command", ["scp", "serve"])
def test_doseledger_scp_and_serve_answer_c_echo_and_store(
    command: str, corpus: Path, test_config: dict[str, Any], store: Store
) -> None:
    dcmtk.require("echoscu")
    dcmtk.require("storescu")
    make_user(store, "someone", ["viewer"])  # not a first start: serve makes no admin (tests/test_first_start.py)
    port = free_port()
    environment = {key: str(value) for key, value in test_config.items() if key != "TESTING"}
    environment.update(
        DOSELEDGER_SCP_PORT=str(port),
        DOSELEDGER_SCP_HOST="127.0.0.1",
        DOSELEDGER_PORT=str(free_port()),
        PATH=os.environ["PATH"],
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.cli", command], env=environment, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        _wait_for_line(process, "DICOM Storage SCP DOSELEDGER is listening")
        assert dcmtk.echoscu(port).returncode == 0
        path = corpus / "CT-RDSR-GEPixelMed.dcm"
        assert dcmtk.storescu(port, [path]) == {path.name: "Success"}
    finally:
        process.terminate()
        process.communicate(timeout=60)
    assert process.returncode == 0
    assert [entry["type"] for entry in store.events_after(0)] == ["received", "created"]


def _wait_for_line(process: subprocess.Popen[str], text: str) -> None:
    assert process.stderr is not None
    for line in process.stderr:
        if text in line:
            return
    pytest.fail(f"the command ended without saying {text!r}")


def test_an_invalid_dose_report_is_kept_and_answered_an_error(scp: StorageSCP, store: Store, tmp_path: Path) -> None:
    """The report carries a dose: a failure at the modality shows it is not recorded (status.py says why)."""
    invalid, image = tmp_path / "malformed-dlp.dcm", tmp_path / "image-no-dose.dcm"
    invalid.write_bytes(ct_report_bytes(dlp_total="abc"))
    image.write_bytes(image_without_dose())
    answers = dcmtk.storescu(scp.port, [invalid, image], calling="CT_SCANNER")
    assert answers == {"malformed-dlp.dcm": "Error: DataSetDoesNotMatchSOPClass", "image-no-dose.dcm": "Success"}
    rejected = {e["code"]: e for e in store.events_after(0) if e["type"] == "rejected"}
    assert set(rejected) == {"invalid-dose-report", "not-a-dose-object"}
    assert store.has_original(rejected["invalid-dose-report"]["sha256"])
