import copy
import hashlib
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from service.errors import DatabaseUnavailable
from service.ingest.pipeline import Pipeline
from service.storage import Store
from tests.roundtrips import counted_store
from tests.samples import EXPECTED_CODES, bad_inputs, ct_report, ct_report_bytes, image_without_dose, to_bytes
from tests.test_extract_ct import CT_FILES


def types(store: Store) -> list[tuple[str, str | None]]:
    return [(entry["type"], entry["name"]) for entry in store.events_after(0, limit=1000)]


def test_created_then_duplicate(pipeline: Pipeline, store: Store) -> None:
    data = ct_report_bytes(dlp="42")
    first = pipeline.ingest(data, name="a.dcm", via="cli", client="me@host")
    again = pipeline.ingest(data, name="a-again.dcm", via="http", client="10.0.0.1")
    assert (first.outcome, again.outcome) == ("created", "duplicate")
    assert first.study_instance_uid == again.study_instance_uid and first.sop_instance_uid
    assert "a-again.dcm is already part of study" in again.message
    document = store.get_study(first.study_instance_uid or "")
    assert document["revision"] == 1 and document["summary"]["total_dlp"] == 42
    [report] = document["reports"]
    assert report["sha256"] == hashlib.sha256(data).hexdigest() and report["via"] == "cli"
    assert types(store) == [
        ("received", "a.dcm"),
        ("created", "a.dcm"),
        ("received", "a-again.dcm"),
        ("duplicate", "a-again.dcm"),
    ]
    created = store.events_after(1, limit=1)[0]
    assert created["study_instance_uid"] == first.study_instance_uid and created["outcome"] == "created"
    assert created["sha256"] == report["sha256"] and created["via"] == "cli" and created["client"] == "me@host"
    assert store.count_originals() == 1


def rebuilt_by_an_scp(ds: Dataset, syntax: str) -> bytes:
    """Return ``ds`` as a Storage SCP writes what it received: other file meta information, maybe another syntax."""
    again = copy.deepcopy(ds)
    again.file_meta.TransferSyntaxUID = syntax
    again.file_meta.ImplementationClassUID = "1.2.826.0.1.3680043.9.3811.2.1.0"
    again.file_meta.ImplementationVersionName = "PYNETDICOM_210"
    again.file_meta.SourceApplicationEntityTitle = "CT_SCANNER"
    return to_bytes(again)


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
def test_the_same_object_by_two_routes_is_a_duplicate(pipeline: Pipeline, store: Store, syntax: str) -> None:
    ds = ct_report(dlp="42")
    by_http, by_dicom = to_bytes(ds), rebuilt_by_an_scp(ds, syntax)
    assert by_http != by_dicom
    first = pipeline.ingest(by_http, name="a.dcm", via="http", client="10.0.0.1")
    again = pipeline.ingest(by_dicom, name="a-by-dicom", via="dicom", client="CT_SCANNER@10.0.0.2")
    assert (first.outcome, again.outcome) == ("created", "duplicate")
    assert "nothing changed" in again.message
    document = store.get_study(first.study_instance_uid or "")
    assert document["revision"] == 1 and document["summary"]["total_dlp"] == 42
    [report] = document["reports"]  # the first arrival is kept
    assert (report["via"], report["sha256"]) == ("http", hashlib.sha256(by_http).hexdigest())
    assert types(store)[-1] == ("duplicate", "a-by-dicom")
    assert store.count_originals() == 2  # both byte streams are kept, as everything received is


def test_the_same_sop_instance_with_other_values_is_still_merged(pipeline: Pipeline, store: Store) -> None:
    ds = ct_report(dlp="42")
    pipeline.ingest(to_bytes(ds), name="a.dcm", via="http", client="t")
    ds.ContentSequence[1].ContentSequence[1].MeasuredValueSequence[0].NumericValue = "43"
    again = pipeline.ingest(rebuilt_by_an_scp(ds, ExplicitVRLittleEndian), name="b", via="dicom", client="t")
    assert again.outcome == "merged"
    document = store.get_study(again.study_instance_uid or "")
    assert document["revision"] == 2 and document["ct"]["accumulated"]["ct_dose_length_product_total"] == 43


def test_every_bad_input_is_rejected_logged_and_kept(pipeline: Pipeline, store: Store, corpus: Path) -> None:
    for name, data in bad_inputs(corpus).items():
        outcome = pipeline.ingest(data, name=name, via="http", client="t")
        assert outcome.rejected and outcome.code == EXPECTED_CODES[name], name
        assert name in outcome.message
        assert store.read_original(hashlib.sha256(data).hexdigest()) is not None
        entry = store.events_after(0, limit=1000)[-1]
        assert (entry["type"], entry["code"], entry["name"], entry["message"]) == (
            "rejected",
            outcome.code,
            name,
            outcome.message,
        )
    assert store.db.studies.count_documents({}) == 0


def test_the_non_dose_sr_names_its_title(pipeline: Pipeline, corpus: Path) -> None:
    outcome = pipeline.ingest(
        (corpus / "ESR_non-dose.dcm").read_bytes(), name="ESR_non-dose.dcm", via="cli", client="t"
    )
    assert outcome.message == (
        "ESR_non-dose.dcm was rejected: it is not a dose report: its document title is "
        "(18748-4, LN) Diagnostic Imaging Report"
    )
    assert outcome.study_instance_uid  # identified from the header even though rejected


def test_too_large_is_refused_unread(store: Store) -> None:
    pipeline = Pipeline(store, max_bytes=100, not_patient_patterns=())
    outcome = pipeline.ingest(ct_report_bytes(), name="big.dcm", via="cli", client="t")
    assert outcome.code == "too-large" and "more than the limit of 100 bytes" in outcome.message
    assert store.count_originals() == 0
    assert types(store) == [("received", "big.dcm"), ("rejected", "big.dcm")]


def test_images_are_kept_without_pixel_data(pipeline: Pipeline, store: Store) -> None:
    data = image_without_dose()
    pipeline.ingest(data, name="image.dcm", via="cli", client="t")
    kept = store.read_original(hashlib.sha256(data).hexdigest())
    assert len(kept) < len(data) // 2


def test_an_extractor_failure_rejects_only_that_object(
    pipeline: Pipeline, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> dict[str, object]:
        raise KeyError("surprise")

    monkeypatch.setattr("service.ingest.pipeline.extract", broken)
    outcome = pipeline.ingest(ct_report_bytes(), name="odd.dcm", via="cli", client="t")
    assert outcome.code == "invalid-dose-report"
    assert outcome.message.startswith("odd.dcm could not be read as a dose report: its content is arranged")
    assert "KeyError" not in outcome.message and "surprise" not in outcome.message  # a sentence, not Python's
    assert store.count_originals() == 1


def test_reprocess_applies_the_improved_extractor(
    pipeline: Pipeline, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = ct_report_bytes(dlp="7")
    from service.ingest import pipeline as ingest

    real = ingest.extract
    monkeypatch.setattr("service.ingest.pipeline.extract", lambda *a, **k: (_ for _ in ()).throw(KeyError("old bug")))
    assert pipeline.ingest(good, name="later.dcm", via="http", client="t").rejected
    pipeline.ingest(b"junk", name="junk.bin", via="http", client="t")
    monkeypatch.setattr("service.ingest.pipeline.extract", real)
    outcomes = list(pipeline.reprocess(client="admin"))
    assert [o.outcome for o in outcomes] == ["created", "rejected"]
    document = store.get_study(outcomes[0].study_instance_uid or "")
    assert document["summary"]["total_dlp"] == 7 and document["reports"][0]["via"] == "http"
    # Reprocessing again re-applies the report instead of calling it a duplicate.
    assert [o.outcome for o in pipeline.reprocess(client="admin")] == ["merged", "rejected"]
    assert store.get_study(outcomes[0].study_instance_uid or "")["summary"]["total_dlp"] == 7


@pytest.mark.parametrize("name", CT_FILES)
def test_every_ct_sample_imports(pipeline: Pipeline, corpus: Path, name: str) -> None:
    outcome = pipeline.ingest((corpus / name).read_bytes(), name=name, via="cli", client="t")
    assert outcome.outcome == "created", outcome.message


def test_cumulative_reports_never_double_count(pipeline: Pipeline, store: Store, corpus: Path) -> None:
    totals = []
    for part in ("Multi-1", "Multi-2", "Multi-3"):
        name = f"CT-RDSR-Siemens-{part}.dcm"
        outcome = pipeline.ingest((corpus / name).read_bytes(), name=name, via="cli", client="t")
        totals.append(store.get_study(outcome.study_instance_uid or "")["summary"]["total_dlp"])
    assert totals == [pytest.approx(7.46), pytest.approx(77.27), pytest.approx(236.09)]
    assert store.db.studies.count_documents({}) == 1


def test_continued_reports_end_in_one_document(pipeline: Pipeline, store: Store, corpus: Path) -> None:
    events = []
    for name in ("CT-RDSR-Siemens-Continued-1.dcm", "CT-RDSR-Siemens-Continued-2.dcm"):
        outcome = pipeline.ingest((corpus / name).read_bytes(), name=name, via="cli", client="t")
        events.append(
            {e["irradiation_event_uid"] for e in store.get_study(outcome.study_instance_uid or "")["ct"]["events"]}
        )
    assert store.db.studies.count_documents({}) == 1
    first, both = events
    document = store.get_study(outcome.study_instance_uid or "")
    assert first < both and len(both) == len(document["ct"]["events"])
    assert document["summary"]["total_dlp"] == pytest.approx(60.17 + 56.44)
    assert len(document["reports"]) == 2


def test_an_objects_two_entries_are_written_together(mongo_uri: str, db_name: str) -> None:
    data = ct_report_bytes(dlp="42")
    with counted_store(mongo_uri, db_name) as (store, commands):
        pipeline = Pipeline(store, max_bytes=1 << 20, not_patient_patterns=())
        outcome = pipeline.ingest(data, name="a.dcm", via="dicom", client="CT1@10.0.0.9")
        logged = [command for command in commands.sent if command[1] == "event_log"]
        assert logged == [("find", "event_log"), ("insert", "event_log")]  # the last seq is read once
        commands.sent.clear()
        pipeline.ingest(ct_report_bytes(dlp="43"), name="b.dcm", via="dicom", client="CT1@10.0.0.9")
        assert [command for command in commands.sent if command[1] in ("counters", "event_log")] == [
            ("insert", "event_log")
        ]
        received, created, *_ = store.events_after(0)
    assert (received["seq"] + 1, received["at"]) == (created["seq"], created["at"])
    assert {key: received[key] for key in ("type", "name", "via", "client", "sha256", "outcome", "message")} == {
        "type": "received",
        "name": "a.dcm",
        "via": "dicom",
        "client": "CT1@10.0.0.9",
        "sha256": outcome.sha256,
        "outcome": None,
        "message": f"a.dcm: {len(data)} bytes received.",
    }
    assert created["type"] == "created" and created["study_instance_uid"] == outcome.study_instance_uid


def test_an_object_the_database_fails_is_still_logged_as_received(
    pipeline: Pipeline, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*args: object, **kwargs: object) -> None:
        raise DatabaseUnavailable("The database cannot be reached: gone")

    monkeypatch.setattr(store, "save_study", down)
    data = ct_report_bytes()
    with pytest.raises(DatabaseUnavailable):
        pipeline.ingest(data, name="late.dcm", via="dicom", client="CT1@10.0.0.9")
    assert types(store) == [("received", "late.dcm")]
    assert store.has_original(hashlib.sha256(data).hexdigest())
