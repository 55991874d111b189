"""Deleting studies: one by an admin (API, page, CLI), or every study older than the retention limit."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.errors import ConfigurationError
from service.ingest.pipeline import Pipeline
from service.retention import retention_cutoff
from service.storage import Store, utcnow
from service.storage.tallies import tally_documents
from tests.conftest import Runner
from tests.identities import identified_report
from tests.samples import ct_report_bytes, to_bytes
from tests.signin import client_with_roles


def _study(pipeline: Pipeline, day: str | None, station: str = "CT1") -> tuple[str, str]:
    """Import a CT report of ``day`` (None: undated) from ``station``; return its Study UID and SHA-256."""
    ds = identified_report()
    ds.StationName = station
    if day is None:
        del ds.StudyDate, ds.StudyTime
    else:
        ds.StudyDate = day
    data = to_bytes(ds)
    outcome = pipeline.ingest(data, name=f"{day}.dcm", via="cli", client="t")
    assert outcome.outcome == "created" and outcome.study_instance_uid
    return outcome.study_instance_uid, hashlib.sha256(data).hexdigest()


def _tallies(store: Store) -> dict[Any, Any]:
    return {(t["modality"], t["station_name"]): (t["count"], t["latest"]) for t in store.tallies()}


def _recount(store: Store) -> dict[Any, Any]:
    return tally_documents(store.db.studies.find({}))


def _events(store: Store, type: str) -> list[dict[str, Any]]:
    return [entry for entry in store.events_after(0, 1000) if entry["type"] == type]


def test_an_admin_deletes_a_study_over_the_api(client: FlaskClient, pipeline: Pipeline, store: Store) -> None:
    newest, newest_sha = _study(pipeline, "20240301")
    older, _ = _study(pipeline, "20240102")
    rejected = ct_report_bytes(study_uid=newest, dlp_total="abc")  # kept, rejected, of the same study
    assert pipeline.ingest(rejected, name="bad.dcm", via="cli", client="t").rejected
    assert _tallies(store)[("CT", "CT1")] == (2, datetime(2024, 3, 1, 10, 15))
    response = client.delete(f"/api/studies/{newest}", json={"reason": "sent to the wrong system"})
    assert response.status_code == 200
    assert response.get_json() == {"study_instance_uid": newest, "deleted": True, "originals": 2, "seq": 7}
    assert client.get(f"/api/studies/{newest}").status_code == 404
    assert not store.has_original(newest_sha) and store.originals_of_study(newest) == []
    assert store.count_originals() == 1 and store.get_study(older)
    assert _tallies(store) == _recount(store) == {("CT", "CT1"): (1, datetime(2024, 1, 2, 10, 15))}
    [entry] = _events(store, "deleted")
    assert (entry["study_instance_uid"], entry["client"], entry["via"]) == (
        newest,
        "tester[token tests]@127.0.0.1",
        "http",
    )
    assert entry["details"]["reason"] == "sent to the wrong system" and entry["at"] <= utcnow()


@pytest.mark.parametrize(
    ("request_", "status", "what"),
    [
        ({}, 400, "reason"),
        ({"json": {"reason": "   "}}, 400, "reason"),
        ({"query_string": {"reason": "typo"}}, 404, "no study"),
    ],
)
def test_a_deletion_needs_a_reason_and_a_study(
    client: FlaskClient, store: Store, request_: dict[str, Any], status: int, what: str
) -> None:
    response = client.delete("/api/studies/1.2.3.4", **request_)
    assert response.status_code == status and what in response.get_json()["message"]
    assert _events(store, "deleted") == []


def test_the_study_page_deletes_after_confirmation(client: FlaskClient, pipeline: Pipeline, store: Store) -> None:
    uid, _ = _study(pipeline, "20240301")
    page = client.get(f"/studies/{uid}").get_data(as_text=True)
    assert f'href="/studies/{uid}/delete"' in page
    confirm = client.get(f"/studies/{uid}/delete")
    assert confirm.status_code == 200 and 'method="post"' in confirm.get_data(as_text=True)
    assert 'name="csrf_token"' in confirm.get_data(as_text=True)  # a signed-in browser's post needs it
    refused = client.post(f"/studies/{uid}/delete", data={"reason": " "})
    assert refused.status_code == 400 and "reason is required" in refused.get_data(as_text=True)
    assert store.get_study(uid)
    done = client.post(f"/studies/{uid}/delete", data={"reason": "duplicate test import"})
    assert done.status_code == 200 and "Study deleted" in done.get_data(as_text=True)
    assert client.get(f"/studies/{uid}").status_code == 404
    assert _events(store, "deleted")[0]["details"]["reason"] == "duplicate test import"


def test_only_an_admin_is_offered_the_button(app: Flask, pipeline: Pipeline) -> None:
    uid, _ = _study(pipeline, "20240301")
    viewer = client_with_roles(app, ["viewer"])
    assert "Delete study" not in viewer.get(f"/studies/{uid}").get_data(as_text=True)
    assert viewer.get(f"/studies/{uid}/delete").status_code == 403
    assert viewer.delete(f"/api/studies/{uid}", json={"reason": "x"}).status_code == 403
    admin = client_with_roles(app, ["viewer", "admin"])
    assert "Delete study" in admin.get(f"/studies/{uid}").get_data(as_text=True)


def test_the_cli_deletes_a_study(runner: Runner, pipeline: Pipeline, store: Store) -> None:
    uid, sha = _study(pipeline, "20240301")
    result = runner.invoke(["delete", uid, "--reason", "patient withdrew consent"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"Deleted study {uid} with 1 kept original(s) (event-log entry ")
    assert not store.has_original(sha) and store.tallies() == []
    [entry] = _events(store, "deleted")
    assert entry["via"] == "cli" and "@" in entry["client"]
    missing = runner.invoke(["delete", uid, "--reason", "again"])
    assert missing.exit_code == 2 and f"There is no study with Study Instance UID {uid}" in missing.stderr
    with pytest.raises(SystemExit, match="2"):  # argparse: --reason is required
        runner.invoke(["delete", uid])


def test_purge_deletes_the_studies_before_a_day(runner: Runner, pipeline: Pipeline, store: Store) -> None:
    old, old_sha = _study(pipeline, "20100105")
    older_elsewhere, _ = _study(pipeline, "20091231", station="CT2")
    kept, kept_sha = _study(pipeline, "20240102")
    undated, _ = _study(pipeline, None)  # counts from today, when it was received
    dry = runner.invoke(["purge", "--before", "2016-01-01", "--dry-run"])
    assert dry.stdout.strip() == "2 studies are dated before 2016-01-01; nothing was deleted (--dry-run)."
    result = runner.invoke(["purge", "--before", "2016-01-01"])
    assert result.exit_code == 0, result.stderr
    assert "Deleted 2 studies dated before 2016-01-01 with 2 kept original(s)" in result.stdout
    assert {d["study_instance_uid"] for d in store.db.studies.find({})} == {kept, undated}
    assert not store.has_original(old_sha) and store.has_original(kept_sha)
    assert _tallies(store) == {key: value for key, value in _recount(store).items()}
    assert _tallies(store)[("CT", "CT1")][0] == 2 and ("CT", "CT2") not in _tallies(store)
    assert {e["study_instance_uid"] for e in _events(store, "deleted")} == {old, older_elsewhere}
    [purge] = _events(store, "purge")
    assert purge["details"] == {"before": "2016-01-01", "studies": 2, "originals": 2}
    again = runner.invoke(["purge", "--before", "2016-01-01"])
    assert again.stdout.startswith("No study is dated before 2016-01-01; nothing was deleted")


def test_purge_without_a_day_uses_the_retention_years(runner: Runner, pipeline: Pipeline, store: Store) -> None:
    _study(pipeline, "20100105")
    recent, _ = _study(pipeline, date.today().strftime("%Y%m%d"))
    refused = runner.invoke(["purge"])
    assert refused.exit_code == 2 and "DOSELEDGER_RETENTION_YEARS" in refused.stderr
    result = runner.invoke(["purge"], DOSELEDGER_RETENTION_YEARS="10")
    assert result.exit_code == 0 and "Deleted 1 studies" in result.stdout
    assert [d["study_instance_uid"] for d in store.db.studies.find({})] == [recent]
    future = runner.invoke(["purge", "--before", "2999-01-01"])
    assert future.exit_code == 2 and "after today" in future.stderr


def test_the_retention_cutoff() -> None:
    assert retention_cutoff(10, date(2026, 3, 15)) == date(2016, 3, 15)
    assert retention_cutoff(1, date(2024, 2, 29)) == date(2023, 2, 28)
    with pytest.raises(ConfigurationError, match="DOSELEDGER_RETENTION_YEARS"):
        retention_cutoff(None, date(2026, 3, 15))
