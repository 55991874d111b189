"""Documents carry a schema version; `doseledger migrate` upgrades older ones, once, and says what it did."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from schemas import versions
from schemas.study import validate_study
from schemas.versions import SCHEMA_VERSION, upgrade, version_of
from service.errors import InvalidDoseReport
from service.ingest.pipeline import Pipeline
from service.storage import Store

CT = "CT-RDSR-Siemens-Multi-1.dcm"
LATER = "CT-RDSR-Siemens-Multi-2.dcm"


def imported(corpus: Path, pipeline: Pipeline, name: str = CT) -> str:
    outcome = pipeline.ingest((corpus / name).read_bytes(), name=name, via="cli", client="test")
    return str(outcome.study_instance_uid)


def make_old(store: Store, uid: str) -> dict[str, Any]:
    """Turn a study into what a release before schema versions wrote; return it as stored."""
    store.db.studies.update_one({"study_instance_uid": uid}, {"$unset": {"schema_version": ""}})
    return store.db.studies.find_one({"study_instance_uid": uid}, {"_id": 0})


def test_new_documents_carry_the_current_version(corpus: Path, pipeline: Pipeline, store: Store) -> None:
    uid = imported(corpus, pipeline)
    assert store.get_study(uid)["schema_version"] == SCHEMA_VERSION == 1


def test_a_document_without_a_version_is_refused_by_the_schema(corpus: Path, pipeline: Pipeline, store: Store) -> None:
    document = store.get_study(imported(corpus, pipeline))
    del document["schema_version"]
    with pytest.raises(InvalidDoseReport, match="schema_version: Missing data"):
        validate_study(document)


def test_migrate_upgrades_older_documents_once(corpus: Path, pipeline: Pipeline, store: Store, runner: Any) -> None:
    old_uid, current_uid = imported(corpus, pipeline), imported(corpus, pipeline, "CT-RDSR-GEPixelMed.dcm")
    before = make_old(store, old_uid)
    assert version_of(before) == 0

    check = runner.invoke(["migrate", "--check"])
    assert check.exit_code == 1 and check.stdout == "1 of 2 studies are older than schema version 1, 0 newer.\n"

    result = runner.invoke(["migrate"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "1 study upgraded to schema version 1 (2 in all).\n"
    after = store.get_study(old_uid)
    assert after == {**before, "schema_version": 1, "revision": before["revision"] + 1}  # updated_at kept
    assert store.get_study(current_uid)["revision"] == 1
    entry = store.events_after(0, 1000)[-1]
    assert entry["type"] == "migrate" and entry["outcome"] == "migrated"
    assert entry["details"] == {"schema_version": 1, "upgraded": 1}

    again = runner.invoke(["migrate"])
    assert again.exit_code == 0 and again.stdout == "Nothing to upgrade: all 2 studies are at schema version 1.\n"
    assert store.get_study(old_uid) == after and store.events_after(0, 1000)[-1] == entry
    assert runner.invoke(["migrate", "--check"]).exit_code == 0


def test_a_document_newer_than_the_code_is_named_and_left_alone(
    corpus: Path, pipeline: Pipeline, store: Store, runner: Any
) -> None:
    uid = imported(corpus, pipeline)
    store.db.studies.update_one({"study_instance_uid": uid}, {"$set": {"schema_version": 0.5}})  # not a version
    make_old(store, imported(corpus, pipeline, "CT-RDSR-GEPixelMed.dcm"))
    newer = imported(corpus, pipeline, "CT-RDSR-ToshibaPixelMed.dcm")
    store.db.studies.update_one({"study_instance_uid": newer}, {"$set": {"schema_version": 2}})
    stored = store.get_study(newer)

    result = runner.invoke(["migrate"])
    assert result.exit_code == 1
    assert result.stdout == (
        "2 studies upgraded to schema version 1 (3 in all). Left as written by a later release (schema version "
        "above 1): 1 study; this release cannot merge objects into them (upgrade DoseLedger).\n"
    )
    assert store.get_study(newer) == stored and store.get_study(uid)["schema_version"] == 1
    assert store.events_after(0, 1000)[-1]["details"] == {"schema_version": 1, "upgraded": 2, "newer": 1}


def test_an_object_merged_into_an_older_study_upgrades_it(corpus: Path, pipeline: Pipeline, store: Store) -> None:
    uid = imported(corpus, pipeline)
    make_old(store, uid)
    assert imported(corpus, pipeline, LATER) == uid
    document = store.get_study(uid)
    assert document["schema_version"] == 1 and document["summary"]["total_dlp"] == pytest.approx(77.27, abs=0.01)


def test_upgrade_runs_each_step_in_order_without_changing_its_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(versions, "SCHEMA_VERSION", 3)
    monkeypatch.setitem(versions.STEPS, 1, lambda d: {**d, "dose": d["dose"] * 10})  # e.g. a unit changed
    monkeypatch.setitem(versions.STEPS, 2, lambda d: {k if k != "dose" else "total": v for k, v in d.items()})
    original = {"study_instance_uid": "1.2", "dose": 1.5}
    assert versions.upgrade(original) == {"study_instance_uid": "1.2", "total": 15.0, "schema_version": 3}
    assert original == {"study_instance_uid": "1.2", "dose": 1.5}
    current = {"study_instance_uid": "1.2", "total": 1.0, "schema_version": 3}
    assert versions.upgrade(current) is current
    with pytest.raises(ValueError, match="schema version 4, newer than this DoseLedger's 3"):
        versions.upgrade({"study_instance_uid": "1.2", "schema_version": 4})


def test_upgrade_is_the_identity_on_current_documents() -> None:
    document = {"study_instance_uid": "1.2", "schema_version": SCHEMA_VERSION}
    assert upgrade(document) is document
