"""No patient name, ID or birth date anywhere in the database or the logs after an import, nor after reprocess.

The identities are read from the input files with pydicom (tests.identities.needles):
the whole sample corpus, and objects built here with distinctive values, so that
the scan means something without the corpus too. Every collection is scanned,
GridFS chunks included, as BSON (text as UTF-8, chunks as the bytes kept), and so
is everything logged at DEBUG and above.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from service.ingest.pipeline import Pipeline
from service.storage import Store
from tests.arrivals import comparable, corpus_files
from tests.identities import database_bytes, identified_image, identified_report, leaks, needles, read_files
from tests.samples import to_bytes


def _built() -> dict[str, bytes]:
    """Objects built with distinctive identities: two reports of one study, another patient, a rejected image."""
    first = identified_report()
    second = identified_report(study_uid=str(first.StudyInstanceUID))
    other = identified_report(name="Ostrogoth^Wilhelmina", patient_id="WO-5550123")
    return {
        "built-1.dcm": to_bytes(first),
        "built-2.dcm": to_bytes(second),
        "built-other.dcm": to_bytes(other),
        "built-image.dcm": identified_image(),
    }


def _studies(store: Store) -> dict[str, Any]:
    return {
        document["study_instance_uid"]: {k: v for k, v in comparable(document).items() if k != "revision"}
        for document in store.db.studies.find({})
    }


def _import_and_scan(
    files: dict[str, bytes], pipeline: Pipeline, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """Import ``files``, scan, reprocess, scan again; require no leak and the same documents."""
    sought = needles(files)
    assert len(sought) >= len(files)  # every file gives identities to look for
    inputs = b"".join(files.values())  # each identity is there to be found: the scan below could fail
    assert [n.source for n in sought if not any(f and f in inputs for f in (n.raw, (n.plain or n.text).encode()))] == []
    caplog.set_level(logging.DEBUG)
    outcomes = [pipeline.ingest(data, name=name, via="cli", client="t").outcome for name, data in files.items()]
    assert "created" in outcomes
    assert leaks(sought, database_bytes(store)) == []
    before = _studies(store)
    assert {outcome.outcome for outcome in pipeline.reprocess(client="t")} <= {"merged", "rejected"}
    assert _studies(store) == before
    assert leaks(sought, database_bytes(store)) == []
    assert leaks(sought, caplog.text) == []


def test_built_objects_leave_no_identity(pipeline: Pipeline, store: Store, caplog: pytest.LogCaptureFixture) -> None:
    _import_and_scan(_built(), pipeline, store, caplog)
    keys = {document["patient"]["key"] for document in store.db.studies.find({})}
    assert len(keys) == 2  # one patient in two reports of one study, and another patient


def test_the_corpus_leaves_no_identity(
    corpus: Path, pipeline: Pipeline, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    files = {**read_files(corpus_files(corpus)), **_built()}
    assert len(needles(read_files(corpus_files(corpus)))) >= 40  # names, IDs, name parts, birth dates
    _import_and_scan(files, pipeline, store, caplog)
