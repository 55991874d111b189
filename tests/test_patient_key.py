"""The patient key: one pseudonym per patient, under a site secret that the database recognises."""

from __future__ import annotations

import hashlib
import hmac
import json
import stat
from pathlib import Path

import pytest
from flask import Flask

from service.access.patient_key import FINGERPRINT, PatientKeys, read_secret, secret_path, site_keys
from service.config import load_settings
from service.errors import ConfigurationError
from service.ingest.pipeline import Pipeline
from service.storage import Store
from tests.conftest import Runner
from tests.samples import ct_report, to_bytes

SECRET = "s" * 40


def test_the_key_is_the_hmac_of_issuer_and_id_under_the_secret() -> None:
    keys = PatientKeys(SECRET)
    expected = hmac.new(SECRET.encode(), b"HOSP\\12345", hashlib.sha256).hexdigest()
    assert keys.key("HOSP", "12345") == expected
    assert keys.key(" HOSP ", "12345 ") == expected  # DICOM's space padding does not count
    assert keys.key(None, "12345") == hmac.new(SECRET.encode(), b"\\12345", hashlib.sha256).hexdigest()


def test_keys_link_one_patient_and_nobody_else() -> None:
    keys = PatientKeys(SECRET)
    assert keys.key("HOSP", "12345") == keys.key("HOSP", "12345")
    assert keys.key("HOSP", "12345") != keys.key("HOSP", "12346")
    assert keys.key("HOSP", "12345") != keys.key("CLINIC", "12345")
    assert keys.key("HOSP", "12345") != PatientKeys("t" * 40).key("HOSP", "12345")
    assert keys.key("HOSP", "") is None and keys.key("HOSP", "  ") is None and keys.key(None, None) is None


def test_the_fingerprint_tells_secrets_apart_and_is_not_a_key() -> None:
    keys = PatientKeys(SECRET)
    assert keys.fingerprint() == PatientKeys(SECRET).fingerprint() != PatientKeys("t" * 40).fingerprint()
    assert SECRET not in keys.fingerprint() and len(keys.fingerprint()) == 16


def test_a_short_secret_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="DOSELEDGER_PATIENT_KEY_SECRET is 5 characters long"):
        load_settings({"DOSELEDGER_PATIENT_KEY_SECRET": "short"})
    settings = load_settings({"DOSELEDGER_PATIENT_KEY_SECRET": SECRET})
    assert settings.patient_key_secret == SECRET and SECRET not in repr(settings)


def test_the_first_start_generates_a_private_secret_file(store: Store, tmp_path: Path) -> None:
    settings = load_settings({"DOSELEDGER_DATA_DIR": str(tmp_path / "state" / "db")})
    keys = site_keys(store, settings)
    path = secret_path(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_text().strip()) == 64 and [p.name for p in path.parent.iterdir()] == [path.name]
    assert store.site_value(FINGERPRINT) == keys.fingerprint()
    again = site_keys(store, settings)  # a restart reads the same secret
    assert again.key("H", "1") == keys.key("H", "1") == PatientKeys(path.read_text().strip()).key("H", "1")


def test_the_environment_secret_wins_and_nothing_is_written(store: Store, tmp_path: Path) -> None:
    settings = load_settings({"DOSELEDGER_DATA_DIR": str(tmp_path / "db"), "DOSELEDGER_PATIENT_KEY_SECRET": SECRET})
    assert site_keys(store, settings).key("H", "1") == PatientKeys(SECRET).key("H", "1")
    assert list(tmp_path.iterdir()) == []


def test_another_secret_is_refused_rather_than_breaking_the_links(store: Store, tmp_path: Path) -> None:
    site_keys(store, load_settings({"DOSELEDGER_PATIENT_KEY_SECRET": SECRET}))
    other = load_settings({"DOSELEDGER_PATIENT_KEY_SECRET": "t" * 40})
    with pytest.raises(ConfigurationError, match="not the one this database's patient keys were made with"):
        site_keys(store, other)
    lost = load_settings({"DOSELEDGER_DATA_DIR": str(tmp_path / "db")})
    with pytest.raises(ConfigurationError, match="Restore the file from your backup"):
        site_keys(store, lost)
    assert read_secret(lost) is None  # no new secret was generated


def test_a_damaged_secret_file_is_refused(tmp_path: Path) -> None:
    settings = load_settings({"DOSELEDGER_DATA_DIR": str(tmp_path / "db")})
    secret_path(settings).write_text("abc\n")
    with pytest.raises(ConfigurationError, match="holds 3 characters, not a patient-key secret"):
        read_secret(settings)


def _report(patient_id: str | None, issuer: str | None = None) -> bytes:
    ds = ct_report()
    if patient_id is None:
        del ds.PatientID
    else:
        ds.PatientID = patient_id
    if issuer is not None:
        ds.IssuerOfPatientID = issuer
    return to_bytes(ds)


def test_studies_of_one_patient_share_a_key_and_others_do_not(app: Flask, pipeline: Pipeline, store: Store) -> None:
    reports = {
        "first": _report("PAT-77"),
        "second": _report("PAT-77"),
        "other patient": _report("PAT-78"),
        "other issuer": _report("PAT-77", issuer="OTHER HOSPITAL"),
        "no id": _report(None),
        "empty id": _report(""),
    }
    uids = {
        name: pipeline.ingest(data, name=name, via="cli", client="t").study_instance_uid
        for name, data in reports.items()
    }
    patient = {name: store.get_study(uid)["patient"] for name, uid in uids.items()}
    secret = read_secret(app.config["DOSELEDGER_SETTINGS"])
    assert secret is not None
    assert patient["first"]["key"] == patient["second"]["key"] == PatientKeys(secret).key(None, "PAT-77")
    assert patient["other patient"]["key"] != patient["first"]["key"]
    assert (
        patient["other issuer"]["key"] == PatientKeys(secret).key("OTHER HOSPITAL", "PAT-77") != patient["first"]["key"]
    )
    assert "key" not in patient["no id"] and "key" not in patient["empty id"]


def test_the_key_cannot_be_chosen_by_the_sender(pipeline: Pipeline, store: Store) -> None:
    from service.extract.identity import IDENTITY_ELEMENT, PRIVATE_CREATOR, PRIVATE_GROUP, KeptIdentity

    ds = ct_report()
    ds.PatientID = "PAT-99"
    forged = KeptIdentity(key="f" * 64, not_patient_indicator="IDs: forged | Names: ", age_from_dates=1.0)
    ds.private_block(PRIVATE_GROUP, PRIVATE_CREATOR, create=True).add_new(IDENTITY_ELEMENT, "OB", forged.encode())
    uid = pipeline.ingest(to_bytes(ds), name="forged.dcm", via="cli", client="t").study_instance_uid
    patient = store.get_study(uid)["patient"]
    assert patient["key"] == pipeline.patient_keys.key(None, "PAT-99") != "f" * 64  # type: ignore[union-attr]
    assert patient["not_patient_indicator"] is None and patient["age_years"] == 67.0


def test_extract_prints_the_key_only_with_a_configured_secret(
    runner: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "report.dcm"
    path.write_bytes(_report("PAT-77", issuer="HOSP"))
    monkeypatch.delenv("DOSELEDGER_PATIENT_KEY_SECRET")
    state = tmp_path / "state"
    without = runner.invoke(["extract", path], DOSELEDGER_DATA_DIR=str(state / "db"))
    assert without.exit_code == 0 and "PAT-77" not in without.stdout
    assert "key" not in json.loads(without.stdout)["patient"] and not state.exists()  # none generated
    with_secret = runner.invoke(["extract", path], DOSELEDGER_PATIENT_KEY_SECRET=SECRET)
    assert json.loads(with_secret.stdout)["patient"]["key"] == PatientKeys(SECRET).key("HOSP", "PAT-77")
