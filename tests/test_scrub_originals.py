"""``doseledger scrub-originals``: originals kept by earlier versions lose the patient's identity, once."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from service.ingest.pipeline import Pipeline
from service.storage import Store, utcnow
from service.storage.originals import _chunks
from tests.arrivals import comparable
from tests.conftest import Runner
from tests.identities import DISTINCTIVE, PATIENT_ID, identified_image, identified_report
from tests.samples import to_bytes


def _the_old_way(pipeline: Pipeline, store: Store, monkeypatch: pytest.MonkeyPatch, files: dict[str, bytes]) -> None:
    """Import ``files`` as versions before de-identification did: bytes kept as received, no metadata."""
    with monkeypatch.context() as patch:
        patch.setattr(Pipeline, "_deidentified", lambda self, ds, data, name: (data, False))
        for name, data in files.items():
            pipeline.ingest(data, name=name, via="cli", client="t")
    store.db["originals.files"].update_many(
        {}, {"$unset": {"metadata.scrubbed": "", "metadata.study_instance_uid": ""}}
    )


def _study(store: Store) -> dict[str, Any]:
    [document] = store.db.studies.find({})
    return {key: value for key, value in comparable(document).items() if key != "revision"}


def _old_files() -> dict[str, bytes]:
    report = identified_report(name="PHYSICS^Zyxwvut", patient_id=PATIENT_ID)
    return {
        "report.dcm": to_bytes(report),
        "image.dcm": identified_image(),
        "junk.bin": b"not DICOM but it names " + PATIENT_ID.encode(),
    }


def test_scrub_originals_cleans_what_earlier_versions_kept(
    runner: Runner, pipeline: Pipeline, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _old_files()
    _the_old_way(pipeline, store, monkeypatch, files)
    assert all(PATIENT_ID.encode() in original.data for original in store.iter_originals())
    before = _study(store)
    assert "key" not in before["patient"] and before["patient"]["not_patient_indicator"] == "IDs:  | Names: phy"

    result = runner.invoke(["scrub-originals"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == "2 originals scrubbed, 1 not DICOM, kept as received."
    junk_sha = hashlib.sha256(files["junk.bin"]).hexdigest()
    assert f"left as received: {junk_sha}" in result.stdout
    for name, data in files.items():
        sha = hashlib.sha256(data).hexdigest()  # still the hash of the bytes received
        kept = store.read_original(sha)
        leaked = [value for value in (*DISTINCTIVE, "PHYSICS^Zyxwvut") if value.encode() in kept]
        assert leaked == ([PATIENT_ID] if name == "junk.bin" else []), name
    report = next(o for o in store.iter_originals() if o.name == "report.dcm")
    assert report.scrubbed and report.study_instance_uid == before["study_instance_uid"]
    [entry] = [e for e in store.events_after(0, 100) if e["type"] == "scrub-originals"]
    assert entry["details"] == {"scrubbed": 2, "left_as_received": [junk_sha], "finished": 0}

    [outcome.outcome for outcome in pipeline.reprocess(client="t")]
    after = _study(store)
    assert after["patient"].pop("key") == pipeline.patient_keys.key("HOSP", PATIENT_ID)  # type: ignore[union-attr]
    # earlier versions also stored the SR's Subject Context in the document: reprocessing drops it
    context = before["reports"][0]["context"]
    assert (context.pop("subject_name"), context.pop("subject_id")) == ("Subjectname^Quintessa", "SUBJ-ID-1618033")
    assert context.pop("subject_birth_date") and context["device_role_in_procedure"].pop("subject_id")
    assert after == before


def test_scrub_originals_is_idempotent(
    runner: Runner, pipeline: Pipeline, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    _the_old_way(pipeline, store, monkeypatch, _old_files())
    assert runner.invoke(["scrub-originals"]).exit_code == 0
    kept = {original.sha256: original.data for original in store.iter_originals()}
    again = runner.invoke(["scrub-originals"])
    assert again.stdout.splitlines()[0] == "0 originals scrubbed, 1 not DICOM, kept as received."
    assert {original.sha256: original.data for original in store.iter_originals()} == kept


def test_nothing_to_scrub_says_so(runner: Runner, pipeline: Pipeline) -> None:
    ds = identified_report()
    assert pipeline.ingest(to_bytes(ds), name="new.dcm", via="cli", client="t").outcome == "created"
    result = runner.invoke(["scrub-originals"])
    assert result.stdout.splitlines() == [
        "0 originals scrubbed.",
        "Every kept original is already without the patient's identity.",
    ]


def test_an_interrupted_replacement_is_completed(store: Store) -> None:
    sha = "ab" * 32
    store.keep_original(
        sha, b"old bytes naming someone", name="a", via="cli", client="t", received_at=utcnow(), size=24
    )
    store.db["originals.chunks"].insert_many(_chunks(f"staging:{sha}", b"new bytes"))
    store.db["originals.files"].update_one({"_id": sha}, {"$set": {"metadata.staged_length": 9}})
    store.db["originals.chunks"].delete_many({"files_id": sha})  # interrupted after the old chunks went
    assert store.finish_replacements() == 1
    assert store.read_original(sha) == b"new bytes"
    assert store.db["originals.chunks"].count_documents({"files_id": f"staging:{sha}"}) == 0
    assert store.finish_replacements() == 0


def test_replacing_keeps_the_key_and_the_metadata(store: Store) -> None:
    sha = "cd" * 32
    store.keep_original(sha, b"x" * 600_000, name="big.dcm", via="http", client="h", received_at=utcnow(), size=600_000)
    store.replace_original(sha, b"y" * 300_000, study_instance_uid="1.2.3", scrubbed=True)
    [original] = store.iter_originals()
    assert (original.sha256, original.data, original.name, original.via) == (sha, b"y" * 300_000, "big.dcm", "http")
    assert original.scrubbed and original.study_instance_uid == "1.2.3"
    assert store.db["originals.chunks"].count_documents({}) == 2  # 255 KiB chunks
