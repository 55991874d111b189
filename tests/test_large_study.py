"""Many images of one study: merging one more costs what it changes, and one request writes its study once.

The corpus's DX-Im-GE_XR220-1.dcm, copied with one study and its own SOP
Instance UID and acquisition time each (so each copy is an exposure of its
own). Costs are checked by what is done (how much is validated, how often the
study is written or read whole), not by a clock, so the tests are steady on a
busy machine; ``bench/large_study.py`` gives the times.
"""

from __future__ import annotations

import io
import itertools
import random
from datetime import datetime
from pathlib import Path
from typing import Any

import pydicom
import pytest
from flask.testing import FlaskClient

from schemas import study as study_schema
from schemas.changed import changed, placed
from service.ingest import merge as merge_module
from service.ingest.grouped import ingest_together
from service.ingest.pipeline import Pipeline
from service.storage import Store
from tests.samples import exposure_copies

SAMPLE = "DX-Im-GE_XR220-1.dcm"


def images(corpus: Path, count: int, study: str | None = None) -> list[bytes]:
    """Return ``count`` copies of the sample, of one study, each its own exposure."""
    return exposure_copies(corpus / SAMPLE, count, study)


def naive_current(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The definition of the reports no other supersedes, compared pair by pair (as merge did before)."""
    uids = [set(r.get("event_uids", [])) for r in reports]
    return [r for i, r in enumerate(reports)
            if not any(j != i and uids[i] <= uids[j] and (uids[i] < uids[j] or j > i) for j in range(len(reports)))]  # fmt: skip


def test_superseded_reports_are_found_as_pair_by_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(11)
    for _ in range(300):
        reports = [{"n": n, "event_uids": rng.sample("abcdef", rng.randint(0, 4))} for n in range(rng.randint(1, 7))]
        assert merge_module._current_reports({"reports": reports}) == naive_current(reports)


def test_merging_one_more_image_validates_only_its_own_event(
    pipeline: Pipeline, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    validated: list[int] = []
    validate = study_schema._STUDY.validate

    def counting(document: dict[str, Any]) -> Any:
        validated.append(len(document.get("projection", {}).get("events", [])) + len(document.get("reports", [])))
        return validate(document)

    monkeypatch.setattr(study_schema._STUDY, "validate", counting)
    for n, data in enumerate(images(corpus, 40)):
        assert pipeline.ingest(data, name=f"{n}.dcm", via="cli", client="t").outcome in ("created", "merged")
    assert validated[0] == 2 and set(validated[1:]) == {2}  # one event and one report each, not 40 and 40
    [study] = pipeline.store.db.studies.find()
    assert len(study["projection"]["events"]) == 40 and study["summary"]["number_of_events"] == 40


def test_an_error_in_a_merged_event_names_its_place_in_the_study() -> None:
    before = {"study_instance_uid": "1", "projection": {"events": [{"irradiation_event_uid": "a"}]}}
    event = {"irradiation_event_uid": "b", "dose_area_product": -1.0}
    after = {**before, "projection": {"events": [before["projection"]["events"][0], event]}}
    view, places = changed(after, before, study_schema._STUDY)
    assert view["projection"]["events"] == [event] and places["projection"]["events"] == [1]
    errors = placed(study_schema._STUDY.validate(view), places)
    assert list(errors["projection"]["events"]) == [1]


def test_the_next_object_of_a_study_is_merged_into_the_document_written_not_read_again(
    pipeline: Pipeline, corpus: Path
) -> None:
    store = pipeline.store
    first, second, third = images(corpus, 3)
    pipeline.ingest(first, name="1.dcm", via="cli", client="t")
    uid = store.db.studies.find_one()["study_instance_uid"]
    kept = store._stored(uid)
    assert kept is store._written[uid]  # the document written, its revision still the stored one
    pipeline.ingest(second, name="2.dcm", via="cli", client="t")
    store.set_patient_fields(uid, {"height_m": 1.7}, expected={"height_m": None}, now=datetime(2026, 1, 1))
    assert store._stored(uid) is not store._written[uid]  # another write came between: read again
    pipeline.ingest(third, name="3.dcm", via="cli", client="t")
    study = store.get_study(uid)
    assert study["patient"]["height_m"] == 1.7 and len(study["reports"]) == 3


def _comparable(document: dict[str, Any]) -> dict[str, Any]:
    """A study document without what differs between two imports of the same objects (times, ids, UIDs)."""
    volatile = {"_id", "created_at", "updated_at", "received_at", "via"}
    if isinstance(document, dict):
        return {k: _comparable(v) for k, v in document.items() if k not in volatile}
    if isinstance(document, list):
        return [_comparable(v) for v in document]
    return document


def test_one_request_writes_its_study_once_with_the_outcomes_of_one_by_one(
    pipeline: Pipeline, store: Store, corpus: Path, mongo_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = images(corpus, 30, study="1.2.826.0.1.3680043.10.997.1")
    objects.insert(10, objects[3])  # the same object twice: a duplicate
    one_by_one = Store.connect(mongo_uri, f"{store.db.name}_reference")
    try:
        one_by_one.ensure_indexes()
        reference = Pipeline(one_by_one, max_bytes=pipeline.max_bytes, not_patient_patterns=(),
                             patient_keys=pipeline.patient_keys)  # fmt: skip
        expected = [reference.ingest(data, name=f"{n}.dcm", via="http", client="t") for n, data in enumerate(objects)]
        saves = itertools.count()
        save_study = store.save_study
        monkeypatch.setattr(store, "save_study", lambda *a, **k: next(saves) is not None and save_study(*a, **k))
        got = ingest_together(pipeline, ((data, f"{n}.dcm") for n, data in enumerate(objects)), via="http", client="t")
        assert next(saves) == 1  # one study, one write
        assert [(o.outcome, o.message) for o in got] == [(o.outcome, o.message) for o in expected]
        assert got[0].outcome == "created" and got[10].outcome == "duplicate"
        assert _comparable(store.get_study(got[0].study_instance_uid)) == _comparable(
            one_by_one.get_study(got[0].study_instance_uid)
        )
        kinds = [(e["type"], e.get("name")) for e in store.events_after(0, 1000)]
        assert kinds == [(e["type"], e.get("name")) for e in one_by_one.events_after(0, 1000)]
        assert store.db.journal.count_documents({}) == 0
    finally:
        one_by_one.client.drop_database(one_by_one.db.name)
        one_by_one.close()


def test_an_object_its_study_refuses_is_rejected_alone_in_a_request(
    client: FlaskClient, store: Store, corpus: Path
) -> None:
    objects = images(corpus, 5)
    bad = pydicom.dcmread(io.BytesIO(objects[2]))
    bad.ImageAndFluoroscopyAreaDoseProduct = "-5"  # a negative dose: the study document would be invalid
    buffer = io.BytesIO()
    bad.save_as(buffer)
    objects[2] = buffer.getvalue()
    files = [(io.BytesIO(data), f"{n}.dcm") for n, data in enumerate(objects)]
    response = client.post("/api/imports", data={"files": files}, content_type="multipart/form-data")
    assert response.status_code == 207, response.get_json()
    outcomes = [r["outcome"] for r in response.get_json()["results"]]
    assert outcomes == ["created", "merged", "rejected", "merged", "merged"]
    assert "projection.events.2.dose_area_product: Expected at least 0" in response.get_json()["results"][2]["message"]
    [study] = store.db.studies.find()
    assert study["summary"]["number_of_events"] == 4 and len(study["reports"]) == 4
