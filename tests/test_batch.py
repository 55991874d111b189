"""Concurrent import (service.ingest.batch and ``doseledger import --workers``) against the session's database."""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pymongo
import pytest

from scripts.cli import main
from service.errors import DatabaseUnavailable
from service.extract import extract
from service.ingest.batch import IN_FLIGHT_PER_WORKER, ingest_all, ingest_source
from service.ingest.pipeline import Outcome, Pipeline
from service.ingest.sources import Source, iter_sources
from service.storage import Store, utcnow
from tests.conftest import Runner
from tests.samples import NOT_DICOM

TEMPLATES = ["CT-RDSR-GEPixelMed.dcm", "CT-RDSR-ToshibaPixelMed.dcm", "CT-RDSR-Siemens-Multi-1.dcm"]
MULTI = [f"CT-RDSR-Siemens-Multi-{n}.dcm" for n in (1, 2, 3)]
CONTINUED = [f"CT-RDSR-Siemens-Continued-{n}.dcm" for n in (1, 2)]


def write_copies(corpus: Path, folder: Path, count: int) -> list[Path]:
    """Write ``count`` corpus CT reports with fresh Study, Series and SOP Instance UIDs into ``folder``."""
    folder.mkdir(exist_ok=True)
    templates = [pydicom.dcmread(corpus / name) for name in TEMPLATES]
    paths = []
    for index in range(count):
        ds = templates[index % len(templates)]
        ds.StudyInstanceUID, ds.SeriesInstanceUID = pydicom.uid.generate_uid(), pydicom.uid.generate_uid()
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
        paths.append(folder / f"copy-{index:03}.dcm")
        ds.save_as(paths[-1])
    return paths


def log_by_name(store: Store) -> dict[str, list[str]]:
    """Return the event-log entry types of each object, in log order, checking that ``seq`` has no gap."""
    events = store.events_after(0, limit=1000)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    types: dict[str, list[str]] = {}
    for event in events:
        types.setdefault(event["name"], []).append(event["type"])
    return types


def test_a_folder_of_many_objects_with_several_workers(
    runner: Runner, store: Store, corpus: Path, tmp_path: Path
) -> None:
    paths = write_copies(corpus, tmp_path / "in", 30)
    (tmp_path / "in" / "copy-000-again.dcm").write_bytes(paths[0].read_bytes())  # the same bytes twice at once
    (tmp_path / "in" / "copy-001-bad.pdf").write_bytes(NOT_DICOM)
    result = runner.invoke(["import", "--workers", "4", tmp_path / "in"])
    assert result.exit_code == 1, result.stderr
    summary, rejection = result.stdout.splitlines()
    assert summary == "30 created, 0 merged, 1 duplicate, 1 rejected"
    assert rejection.startswith(f"rejected (not-dicom): {tmp_path / 'in' / 'copy-001-bad.pdf'} is not a DICOM file")
    assert store.db.studies.count_documents({}) == 30 and store.count_originals() == 31
    logged = log_by_name(store)
    assert len(logged) == 32 and all(types[0] == "received" and len(types) == 2 for types in logged.values())
    assert Counter(types[1] for types in logged.values()) == {"created": 30, "duplicate": 1, "rejected": 1}


def test_parts_of_studies_at_once_give_the_sequential_values(
    runner: Runner, store: Store, corpus: Path, tmp_path: Path, mongo_client: pymongo.MongoClient[dict[str, Any]]
) -> None:
    for name in MULTI + CONTINUED:
        (tmp_path / name).write_bytes((corpus / name).read_bytes())
    result = runner.invoke(["import", "--workers", "5", tmp_path])
    assert (result.exit_code, result.stdout) == (0, "2 created, 3 merged, 0 duplicate, 0 rejected\n")
    multi, continued = (store.get_study(_study_uid(corpus / parts[0])) for parts in (MULTI, CONTINUED))
    assert multi["summary"]["total_dlp"] == pytest.approx(236.09)
    assert continued["summary"]["total_dlp"] == pytest.approx(60.17 + 56.44)
    for document, parts in ((multi, MULTI), (continued, CONTINUED)):
        uids = [event["irradiation_event_uid"] for event in document["ct"]["events"]]
        assert sorted(uids) == sorted(set().union(*(_event_uids(corpus / name) for name in parts)))
        assert len(document["reports"]) == len(parts)
    sequential = f"{store.db.name}_sequential"
    try:
        again = runner.invoke(["import", "--workers", "1", tmp_path], DOSELEDGER_DB_NAME=sequential)
        assert again.stdout == result.stdout
        for document in (multi, continued):
            alone = mongo_client[sequential].studies.find_one({"study_instance_uid": document["study_instance_uid"]})
            assert alone is not None and alone["summary"] == document["summary"]
            assert alone["ct"]["accumulated"] == document["ct"]["accumulated"]
    finally:
        mongo_client.drop_database(sequential)


def _study_uid(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).StudyInstanceUID)


def _event_uids(path: Path) -> set[str]:
    return {event["irradiation_event_uid"] for event in extract(pydicom.dcmread(path))["ct"]["events"]}


def test_one_worker_ingests_one_object_after_the_other(
    runner: Runner, store: Store, corpus: Path, tmp_path: Path
) -> None:
    paths = write_copies(corpus, tmp_path / "in", 4)
    result = runner.invoke(["import", "--workers", "1", tmp_path / "in"])
    assert (result.exit_code, result.stdout) == (0, "4 created, 0 merged, 0 duplicate, 0 rejected\n")
    events = store.events_after(0, limit=100)
    assert [(e["name"], e["type"]) for e in events] == [
        (str(path), kind) for path in paths for kind in ("received", "created")
    ]


def test_outcomes_follow_the_sources_and_few_are_read_ahead(pipeline: Pipeline, corpus: Path, tmp_path: Path) -> None:
    write_copies(corpus, tmp_path / "in", 12)
    sources = list(iter_sources([tmp_path / "in"]))
    pulled: list[str] = []

    def lazily() -> Iterator[Source]:
        for source in sources:
            pulled.append(source.name)
            yield source

    outcomes = ingest_all(pipeline, lazily(), workers=3, via="cli", client="t")
    first = next(outcomes)
    assert len(pulled) == IN_FLIGHT_PER_WORKER * 3
    assert [first.name, *(outcome.name for outcome in outcomes)] == [source.name for source in sources]


@pytest.mark.parametrize("workers", [1, 3])
def test_ctrl_c_finishes_the_objects_started_and_touches_no_other(
    runner: Runner, store: Store, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    write_copies(corpus, tmp_path / "in", 20)

    def interrupted_at_the_fifth(pipeline: Pipeline, source: Source, **kwargs: str) -> Outcome:
        if source.name.endswith("copy-004.dcm"):
            os.kill(os.getpid(), signal.SIGINT)
        return ingest_source(pipeline, source, **kwargs)

    monkeypatch.setattr("service.ingest.batch.ingest_source", interrupted_at_the_fifth)
    result = runner.invoke(["import", "--workers", str(workers), tmp_path / "in"])
    assert result.exit_code == 130 and "interrupted" in result.stderr
    created = int(result.stdout.split()[0])
    assert 5 <= created <= 5 + IN_FLIGHT_PER_WORKER * workers < 20
    logged = log_by_name(store)
    assert len(logged) == created and all(types == ["received", "created"] for types in logged.values())
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_ctrl_c_stops_before_the_next_object(
    runner: Runner, store: Store, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = write_copies(corpus, tmp_path / "in", 8)

    def interrupted_twice_at_the_fifth(pipeline: Pipeline, source: Source, **kwargs: str) -> Outcome:
        if source.name.endswith("copy-004.dcm"):
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        return ingest_source(pipeline, source, **kwargs)

    monkeypatch.setattr("service.ingest.batch.ingest_source", interrupted_twice_at_the_fifth)
    result = runner.invoke(["import", "--workers", "1", tmp_path / "in"])
    assert (result.exit_code, result.stdout, result.stderr) == (130, "", "doseledger: interrupted.\n")
    assert log_by_name(store) == {str(path): ["received", "created"] for path in paths[:4]}


def test_the_database_lost_by_a_worker_stops_the_import(
    runner: Runner, store: Store, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_copies(corpus, tmp_path / "in", 20)
    ingest = Pipeline.ingest

    def lost_at_the_fifth(self: Pipeline, data: bytes, *, name: str, via: str, client: str, **origin: Any) -> Outcome:
        if name.endswith("copy-004.dcm"):
            raise DatabaseUnavailable("The database cannot be reached: connection refused")
        return ingest(self, data, name=name, via=via, client=client, **origin)

    monkeypatch.setattr(Pipeline, "ingest", lost_at_the_fifth)
    result = runner.invoke(["import", "--workers", "3", tmp_path / "in"])
    assert (result.exit_code, result.stderr) == (3, "doseledger: The database cannot be reached: connection refused\n")
    logged = log_by_name(store)
    assert 4 <= len(logged) < 20 and all(types == ["received", "created"] for types in logged.values())


def test_an_unreachable_database_stops_the_workers(tmp_path: Path) -> None:
    store = Store.connect("mongodb://127.0.0.1:1/?directConnection=true", "nowhere", timeout=0.2)
    pipeline = Pipeline(store, max_bytes=1000, not_patient_patterns=())
    read: list[int] = []
    sources = [Source(f"{n}.dcm", 3, lambda n=n: read.append(n) or b"abc") for n in range(50)]  # type: ignore[misc]
    try:
        with pytest.raises(DatabaseUnavailable, match="cannot be reached"):
            list(ingest_all(pipeline, sources, workers=3, via="cli", client="t"))
    finally:
        store.close()
    assert len(read) <= IN_FLIGHT_PER_WORKER * 3


def test_an_import_without_a_database_exits_3(runner: Runner, tmp_path: Path) -> None:
    (tmp_path / "a.dcm").write_bytes(b"abc")
    result = runner.invoke(
        ["import", "--workers", "2", tmp_path],
        MONGODB_URI="mongodb://127.0.0.1:1/?directConnection=true",
        DOSELEDGER_DB_TIMEOUT="0.2",
    )
    assert result.exit_code == 3 and result.stderr.startswith("doseledger: The database cannot be reached")


@pytest.mark.parametrize(
    ("value", "what"),
    [("0", "value=0 is out of range"), ("-1", "value=-1 is out of range"), ("two", "value='two' is not a whole")],
)
def test_a_bad_number_of_workers_is_a_usage_error(capsys: pytest.CaptureFixture[str], value: str, what: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["import", "--workers", value, "x.dcm"])
    assert exit_.value.code == 2 and f"argument --workers: {what}" in capsys.readouterr().err.splitlines()[-1]


def test_the_workers_setting(runner: Runner, corpus: Path, tmp_path: Path) -> None:
    write_copies(corpus, tmp_path, 2)
    good = runner.invoke(["import", tmp_path], DOSELEDGER_IMPORT_WORKERS="2")
    assert (good.exit_code, good.stdout) == (0, "2 created, 0 merged, 0 duplicate, 0 rejected\n")
    bad = runner.invoke(["import", tmp_path], DOSELEDGER_IMPORT_WORKERS="0")
    assert bad.exit_code == 2 and "DOSELEDGER_IMPORT_WORKERS=0 is out of range" in bad.stderr


def test_the_same_bytes_kept_at_once_is_no_error(store: Store) -> None:
    """A worker whose chunk insert loses the race to another's (chunks written, files entry not yet) keeps nothing."""
    store.db["originals.chunks"].insert_one({"files_id": "ab" * 32, "n": 0, "data": b"x"})
    kept = store.keep_original("ab" * 32, b"x", name="x.dcm", via="cli", client="t", received_at=utcnow(), size=1)
    assert kept is False and store.db["originals.chunks"].count_documents({}) == 1
