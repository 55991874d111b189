"""Patient sizes from a RIS CSV file into stored studies: store, command line and HTTP."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.errors import InvalidFile
from service.ingest.document import save_fragment
from service.ingest.patient_sizes import Sender, import_sizes
from service.ingest.pipeline import Pipeline
from service.storage import Store
from tests.conftest import Runner
from tests.studies import fragment

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


# --- many rows: bulk writes, the row limit ---------------------------------------------------------


def many(store: Store, count: int, weight: float | None = 70.0) -> None:
    """Save ``count`` studies with accession numbers ACC-S0..., none with a height, each of ``weight``."""
    for n in range(count):
        save_fragment(store, fragment(f"S{n}", weight=weight), now=datetime(2024, 3, 2))


def test_a_large_file_is_applied_in_a_few_bulk_round_trips(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    many(store, 1100)
    rows = "".join(f"ACC-S{n},{150 + n % 50},{60 + n % 40}\n" for n in range(1100)) + "ACC-NONE,170,70\n"
    calls: dict[str, int] = {}
    for name in ("patients_of", "patients_of_many", "set_patient_fields", "set_patients_fields", "append_events"):
        real = getattr(store, name)
        monkeypatch.setattr(store, name, lambda *a, real=real, name=name, **k: calls.update({name: calls.get(name, 0) + 1})
                            or real(*a, **k))  # fmt: skip
    result = import_sizes(store, f"acc,h,w\n{rows}".encode(), ("acc", "h", "w"), CLI, overwrite=True)
    assert result.counts() == {"updated": 1100, "unchanged": 0, "no such study": 1, "unreadable value": 0}
    # 500 a time (nothing read back: every write went in), and the file's summary; no row alone
    assert calls == {"patients_of_many": 3, "set_patients_fields": 3, "append_events": 4}
    assert patient(store, "S7") == (1.57, 67.0) and patient(store, "S1099") == (1.99, 79.0)
    entries = [e for e in store.events_after(0, 5000) if e["type"] == "patient-sizes"]
    assert (
        len(entries) == 1101 and entries[0]["message"] == "sizes.csv line 2: set height 1.5 m, weight 60 kg on study S0"
    )
    assert [int(e["message"].split()[2].rstrip(":")) for e in entries[:-1]] == list(
        range(2, 1102)
    )  # in the file's order


def test_rows_of_one_study_apply_in_turn_as_one_by_one(store: Store) -> None:
    many(store, 1)
    result = import_sizes(store, b"acc,h,w\nACC-S0,170,\nACC-S0,180,\n", ("acc", "h", "w"), CLI)
    assert [row.outcome for row in result.rows] == ["updated", "unchanged"]
    assert result.rows[1].message == "line 3: the study already has a height; kept (overwrite replaces them)"
    assert patient(store, "S0") == (1.7, 70.0)


def test_a_study_changed_meanwhile_is_done_again_row_by_row(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    many(store, 3, weight=None)
    real = store.set_patients_fields

    def another_writer_first(updates: list[Any], **kwargs: Any) -> None:
        store.set_patient_fields("S1", {"height_m": 1.6}, expected={"height_m": None}, now=datetime(2024, 4, 1))
        real(updates, **kwargs)

    monkeypatch.setattr(store, "set_patients_fields", another_writer_first)
    result = import_sizes(store, b"acc,h,w\nACC-S0,170,80\nACC-S1,175,81\nACC-S2,180,82\n", ("acc", "h", "w"), CLI)
    assert [row.outcome for row in result.rows] == ["updated"] * 3
    assert [patient(store, uid) for uid in ("S0", "S1", "S2")] == [(1.7, 80.0), (1.6, 81.0), (1.8, 82.0)]
    messages = [e["message"] for e in store.events_after(0, 100) if e["type"] == "patient-sizes"]
    assert "sizes.csv line 3: set weight 81 kg on study S1" in messages  # what the row could still set


def test_a_file_over_the_row_limit_is_refused_whole(store: Store, runner: Runner, tmp_path: Path) -> None:
    many(store, 1)
    data = b"acc,h,w\n" + b"ACC-S0,170,80\n" * 4
    with pytest.raises(InvalidFile, match=r"more than 3 rows \(DOSELEDGER_MAX_SIZE_ROWS\)"):
        import_sizes(store, data, ("acc", "h", "w"), CLI, max_rows=3)
    assert patient(store, "S0") == (None, 70.0)
    (tmp_path / "sizes.csv").write_bytes(data)
    refused = runner.invoke(["patient-sizes", tmp_path / "sizes.csv", "acc", "h", "w"], DOSELEDGER_MAX_SIZE_ROWS="3")
    assert refused.exit_code == 2 and "more than 3 rows" in refused.stderr
    assert runner.invoke(["patient-sizes", tmp_path / "sizes.csv", "acc", "h", "w"]).exit_code == 0
