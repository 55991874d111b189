"""Patient sizes from a RIS CSV file into stored studies: store, command line and HTTP."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from service.errors import InvalidFile
from service.ingest.patient_sizes import Sender, import_sizes
from service.ingest.pipeline import Pipeline
from service.storage import Store
from tests.conftest import Runner

SIEMENS = "CT-RDSR-Siemens_Flash-TAP-SS.dcm"  # ACC12345601, already 1.86 m and 87 kg
XR220 = "DX-Im-GE_XR220-1.dcm"  # 00938475, no height or weight
SIEMENS_UID = "1.3.6.1.4.1.5962.99.1.2662687737.2058515598.1471541535737.3.0"
XR220_UID = "1.3.6.1.4.1.5962.99.1.2282339064.1266597797.1479751121656.24.0"
COLUMNS = ("Acc num", "height", "weight")
CLI = Sender("sizes.csv", "cli", "tester")


@pytest.fixture
def studies(pipeline: Pipeline, corpus: Path) -> Store:
    """Import the two corpus studies that pt_size_import.csv names; return the store."""
    for name in (SIEMENS, XR220):
        assert not pipeline.ingest((corpus / name).read_bytes(), name=name, via="cli", client="t").rejected
    return pipeline.store


def patient(store: Store, uid: str) -> tuple[float | None, float | None]:
    found = store.get_study(uid)["patient"]
    return found.get("height_m"), found.get("weight_kg")


def test_corpus_file_fills_missing_sizes_and_reports_rows_that_matched_nothing(studies: Store, corpus: Path) -> None:
    result = import_sizes(studies, (corpus / "pt_size_import.csv").read_bytes(), COLUMNS, CLI)
    assert [(row.line, row.outcome) for row in result.rows] == [
        (2, "unchanged"),
        (3, "no such study"),
        (4, "updated"),
    ]
    assert result.rows[1].message == "line 3: no study has accession number 74624646290"
    assert result.rows[2].message == f"line 4: set height 1.98 m, weight 102.3 kg on study {XR220_UID}"
    assert patient(studies, SIEMENS_UID) == (1.86, 87)  # present values are kept
    assert patient(studies, XR220_UID) == (1.98, 102.3)  # cm -> m
    assert result.summary() == "3 rows: 1 updated, 1 unchanged, 1 no such study, 0 unreadable value"
    entries = [e for e in studies.events_after(0, limit=100) if e["type"] == "patient-sizes"]
    assert [(e["outcome"], e["study_instance_uid"]) for e in entries] == [("updated", XR220_UID), ("imported", None)]
    assert entries[0]["message"] == f"sizes.csv line 4: set height 1.98 m, weight 102.3 kg on study {XR220_UID}"
    assert studies.get_study(XR220_UID)["revision"] == 2


def test_overwrite_replaces_present_sizes(studies: Store, corpus: Path) -> None:
    result = import_sizes(studies, (corpus / "pt_size_import.csv").read_bytes(), COLUMNS, CLI, overwrite=True)
    assert [row.outcome for row in result.rows] == ["updated", "no such study", "updated"]
    assert patient(studies, SIEMENS_UID) == (1.7, 90.0)
    again = import_sizes(studies, (corpus / "pt_size_import.csv").read_bytes(), COLUMNS, CLI, overwrite=True)
    assert [row.outcome for row in again.rows] == ["unchanged", "no such study", "unchanged"]


def test_rows_can_name_studies_by_study_instance_uid(studies: Store) -> None:
    data = f"uid;h;w\n{XR220_UID};165,5;\n1.2.3.4;170;80\n".encode()
    result = import_sizes(studies, data, ("uid", "h", "w"), CLI, by_study_uid=True)
    assert [row.outcome for row in result.rows] == ["updated", "no such study"]
    assert patient(studies, XR220_UID) == (1.655, None)  # a blank weight changes nothing


def test_unreadable_rows_change_nothing(studies: Store) -> None:
    result = import_sizes(studies, b"acc,h,w\n00938475,abc,80\n", ("acc", "h", "w"), CLI)
    assert [(row.outcome, row.message) for row in result.rows] == [
        ("unreadable value", "line 2: height 'abc' is not a number")
    ]
    assert patient(studies, XR220_UID) == (None, None)


def test_a_file_that_cannot_be_used_is_logged(store: Store) -> None:
    with pytest.raises(InvalidFile, match=r"sizes\.csv cannot be used: the file has no column 'height'"):
        import_sizes(store, b"Acc num,weight\nA,80\n", COLUMNS, CLI)
    (entry,) = store.events_after(0, limit=10)
    assert (entry["type"], entry["outcome"], entry["code"]) == ("patient-sizes", "rejected", "invalid-file")


# --- command line ----------------------------------------------------------------------------


def test_cli_lists_rows_that_matched_nothing(runner: Runner, studies: Store, corpus: Path) -> None:
    csv = corpus / "pt_size_import.csv"
    result = runner.invoke(["patient-sizes", csv, *COLUMNS])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{csv}: 3 rows: 1 updated, 1 unchanged, 1 no such study, 0 unreadable value",
        "no such study: line 3: no study has accession number 74624646290",
    ]
    assert patient(studies, XR220_UID) == (1.98, 102.3)


def test_cli_verbose_overwrite_and_study_uids(runner: Runner, studies: Store, tmp_path: Path) -> None:
    (tmp_path / "sizes.csv").write_text(f"Study,Height,Weight\n{SIEMENS_UID},180,\n", encoding="utf-8")
    args = ["patient-sizes", tmp_path / "sizes.csv", "study", "height", "weight", "--si-uid"]
    kept = runner.invoke([*args, "--verbose"])
    assert kept.stdout.splitlines()[1] == (
        "unchanged: line 2: the study already has a height; kept (overwrite replaces them)"
    )
    replaced = runner.invoke([*args, "--overwrite"])
    assert replaced.exit_code == 0 and patient(studies, SIEMENS_UID) == (1.8, 87)


def test_cli_exits_1_for_unreadable_rows(runner: Runner, store: Store, tmp_path: Path) -> None:
    (tmp_path / "sizes.csv").write_text("acc,h,w\nA,tall,80\n", encoding="utf-8")
    result = runner.invoke(["patient-sizes", tmp_path / "sizes.csv", "acc", "h", "w"])
    assert result.exit_code == 1
    assert "unreadable value: line 2: height 'tall' is not a number" in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("acc;weight\nA;80\n", "the file has no column 'height'; its columns are 'acc', 'weight'"),
        ("", "the file is empty"),
    ],
)
def test_cli_refuses_a_bad_file(runner: Runner, store: Store, tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "sizes.csv").write_text(content, encoding="utf-8")
    result = runner.invoke(["patient-sizes", tmp_path / "sizes.csv", "acc", "height", "weight"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"doseledger: {tmp_path / 'sizes.csv'} cannot be used: {message}")


def test_cli_missing_file(runner: Runner, tmp_path: Path) -> None:
    result = runner.invoke(["patient-sizes", tmp_path / "none.csv", "a", "b", "c"])
    assert result.exit_code == 2 and "none.csv" in result.stderr


# --- HTTP ----------------------------------------------------------------------------------


def post_sizes(client: FlaskClient, data: bytes, **form: str) -> tuple[int, dict]:
    fields = {"id_column": "Acc num", "height_column": "height", "weight_column": "weight", **form}
    response = client.post(
        "/api/patient-sizes",
        data={**fields, "file": (io.BytesIO(data), "sizes.csv")},
        content_type="multipart/form-data",
    )
    return response.status_code, response.get_json()


def test_api_applies_the_file_row_by_row(client: FlaskClient, studies: Store, corpus: Path) -> None:
    status, body = post_sizes(client, (corpus / "pt_size_import.csv").read_bytes())
    assert status == 200
    assert body["counts"] == {"updated": 1, "unchanged": 1, "no such study": 1, "unreadable value": 0}
    assert [row["outcome"] for row in body["rows"]] == ["unchanged", "no such study", "updated"]
    assert body["rows"][2]["study_instance_uids"] == [XR220_UID]
    assert patient(studies, XR220_UID) == (1.98, 102.3)
    status, body = post_sizes(client, (corpus / "pt_size_import.csv").read_bytes(), overwrite="true")
    assert body["counts"]["updated"] == 1 and patient(studies, SIEMENS_UID) == (1.7, 90.0)


@pytest.mark.parametrize(
    ("data", "form", "code", "message"),
    [
        (
            b"Acc num;weight\nA;80\n",
            {},
            "invalid-file",
            "sizes.csv cannot be used: the file has no column 'height'; its columns are 'Acc num', 'weight'",
        ),
        (b"\xef\xbb\xbf", {}, "invalid-file", "sizes.csv cannot be used: the file is empty"),
        (b"a,b\n", {"id_column": ""}, "invalid-argument", "id_column: Expected the name of the column"),
        (b"a,b\n", {"overwrite": "perhaps"}, "invalid-argument", "overwrite: Not a valid boolean."),
    ],
)
def test_api_refuses_bad_files_and_fields_with_400(
    client: FlaskClient, store: Store, data: bytes, form: dict[str, str], code: str, message: str
) -> None:
    status, body = post_sizes(client, data, **form)
    assert (status, body["code"]) == (400, code)
    assert message in body["message"]


def test_api_without_a_file(client: FlaskClient) -> None:
    response = client.post(
        "/api/patient-sizes",
        data={"id_column": "a", "height_column": "b", "weight_column": "c"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert response.get_json()["errors"] == {"file": ["Send the CSV file in the multipart field 'file'."]}
