import json
import zipfile
from pathlib import Path

from service.storage import Store
from tests.conftest import Runner
from tests.samples import EXPECTED_CODES, bad_inputs, ct_report_bytes


def test_extract_prints_json_without_a_database(runner: Runner, corpus: Path) -> None:
    result = runner.invoke(["extract", corpus / "CT-RDSR-GEPixelMed.dcm"], MONGODB_URI="mongodb://127.0.0.1:1/")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["ct"]["accumulated"]["ct_dose_length_product_total"] == 586.34
    assert len(document["ct"]["events"]) == 2
    assert isinstance(document["study_date_time"], str) and "T" in document["study_date_time"]


def test_extract_merges_the_reports_of_one_study(runner: Runner, corpus: Path) -> None:
    names = ["CT-RDSR-Siemens-Multi-1.dcm", "CT-RDSR-Siemens-Multi-2.dcm", "CT-RDSR-Siemens-Multi-3.dcm"]
    result = runner.invoke(["extract", *(corpus / name for name in names)])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["summary"]["total_dlp"] == 236.09
    assert len(document["ct"]["events"]) == 3 and len(document["reports"]) == 3


def test_extract_of_several_files_prints_a_list(runner: Runner, tmp_path: Path) -> None:
    for name in ("a.dcm", "b.dcm"):
        (tmp_path / name).write_bytes(ct_report_bytes())
    result = runner.invoke(["extract", tmp_path / "a.dcm", tmp_path / "b.dcm"])
    assert result.exit_code == 0 and len(json.loads(result.stdout)) == 2


def test_extract_reports_a_bad_file(runner: Runner, tmp_path: Path) -> None:
    (tmp_path / "bad.dcm").write_bytes(b"nope")
    result = runner.invoke(["extract", tmp_path / "bad.dcm"])
    assert result.exit_code == 1 and "bad.dcm is not a DICOM file" in result.stderr


def test_import_folder_and_zip(runner: Runner, store: Store, tmp_path: Path) -> None:
    study = "1.2.826.0.1.3680043.8.498.5"
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "in" / "one.dcm").write_bytes(ct_report_bytes(study_uid=study, dlp="1"))
    (tmp_path / "in" / "sub" / "two.dcm").write_bytes(ct_report_bytes(study_uid=study, dlp="2"))
    with zipfile.ZipFile(tmp_path / "batch.zip", "w") as zf:
        zf.writestr("three.dcm", ct_report_bytes(dlp="3"))
    result = runner.invoke(["import", tmp_path / "in", tmp_path / "batch.zip"])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == "2 created, 1 merged, 0 duplicate, 0 rejected"
    again = runner.invoke(["import", tmp_path / "in"])
    assert again.exit_code == 0 and again.stdout.startswith("0 created, 0 merged, 2 duplicate, 0 rejected")
    assert store.get_study(study)["summary"]["total_dlp"] == 3
    assert {e["via"] for e in store.events_after(0, limit=100)} == {"cli"}


def test_import_rejections_exit_1_with_reasons(runner: Runner, store: Store, corpus: Path, tmp_path: Path) -> None:
    for name, data in bad_inputs(corpus).items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "good.dcm").write_bytes(ct_report_bytes())
    result = runner.invoke(["import", tmp_path])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"1 created, 0 merged, 0 duplicate, {len(EXPECTED_CODES)} rejected"
    for name, code in EXPECTED_CODES.items():
        assert any(line.startswith(f"rejected ({code}): {tmp_path / name}") for line in lines), name
    assert store.count_originals() == len(EXPECTED_CODES) + 1


def test_import_refuses_a_file_over_the_limit_unread(runner: Runner, store: Store, tmp_path: Path) -> None:
    (tmp_path / "big.dcm").write_bytes(ct_report_bytes())
    result = runner.invoke(["import", tmp_path / "big.dcm"], DOSELEDGER_MAX_UPLOAD_BYTES="100")
    assert result.exit_code == 1 and "rejected (too-large)" in result.stdout
    assert store.count_originals() == 0


def test_import_of_a_missing_path(runner: Runner, tmp_path: Path) -> None:
    result = runner.invoke(["import", tmp_path / "nowhere"])
    assert result.exit_code == 2 and "nowhere does not exist" in result.stderr


def test_reprocess(runner: Runner, tmp_path: Path) -> None:
    (tmp_path / "a.dcm").write_bytes(ct_report_bytes())
    (tmp_path / "b.txt").write_bytes(b"text")
    runner.invoke(["import", tmp_path])
    result = runner.invoke(["reprocess"])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == "0 created, 1 merged, 0 duplicate, 1 rejected"


def test_a_bad_setting_is_a_usage_error(runner: Runner) -> None:
    result = runner.invoke(["reprocess"], DOSELEDGER_DB_NAME="bad name")
    assert result.exit_code == 2 and "DOSELEDGER_DB_NAME" in result.stderr


def test_an_unreachable_database_exits_3(runner: Runner) -> None:
    result = runner.invoke(
        ["reprocess"], MONGODB_URI="mongodb://127.0.0.1:1/?directConnection=true", DOSELEDGER_DB_TIMEOUT="0.2"
    )
    assert result.exit_code == 3 and "cannot be reached" in result.stderr
