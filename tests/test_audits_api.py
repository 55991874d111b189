"""The audits over HTTP and on the command line: listing, JSON, CSV, errors, standard names, reference levels."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.ingest.document import save_fragment
from service.storage import Store
from tests import auditdata as data
from tests.auditdata import NOW

HEAD = {"modality": "CT", "field": "acquisition_protocol", "standard": "Head"}


@pytest.fixture
def ct_store(store: Store) -> Store:
    return data.seed_ct(store)


def test_list_of_audits(client: FlaskClient) -> None:
    audits = {a["name"]: a for a in client.get("/api/audits").get_json()["audits"]}
    assert audits["ct_dlp_by_protocol"]["title"] == "CT DLP per acquisition protocol"
    assert set(audits["ct_dlp_by_protocol"]["parameters"]) == {"names", "per_station", "interval"}
    assert audits["ct_dlp_by_protocol"]["quantity"]["unit"] == "mGy·cm"
    assert audits["workload"]["parameters"] == {}


def test_audit_as_json(client: FlaskClient, ct_store: Store) -> None:
    answer = client.get("/api/audits/ct_dlp_by_protocol?per_station=no&station_name=north").get_json()
    assert answer["parameters"] == {"names": "raw", "per_station": "no", "interval": "all"}
    assert answer["filters"] == {"station_name": "north", "test_patients": "exclude"}
    [row] = answer["rows"]
    assert (row["name"], row["count"], row["median"], row["p25"], row["p75"]) == ("HEAD ROUTINE", 4, 25, 17.5, 32.5)


def test_audit_as_csv(client: FlaskClient, ct_store: Store) -> None:
    response = client.get("/api/audits/ct_dlp_by_protocol?format=csv")
    assert response.mimetype == "text/csv"
    assert 'filename="ct_dlp_by_protocol.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert list(rows[0]) == [
        "name",
        "station",
        "count",
        "mean (mGy·cm)",
        "p25 (mGy·cm)",
        "median (mGy·cm)",
        "p75 (mGy·cm)",
        "min (mGy·cm)",
        "max (mGy·cm)",
    ]  # fmt: skip  (columns without a value in any row are left out)
    assert [(r["name"], r["station"], float(r["median (mGy·cm)"])) for r in rows] == [
        ("CHEST", "CT-SOUTH", 200), ("HEAD ROUTINE", "CT-NORTH", 25), ("Routine Head", "CT-SOUTH", 60),
    ]  # fmt: skip


def test_unknown_audit_is_404(client: FlaskClient) -> None:
    response = client.get("/api/audits/ct_dlp_by_scanner_colour")
    assert response.status_code == 404
    assert "ct_dlp_by_protocol" in response.get_json()["message"]


@pytest.mark.parametrize(
    ("query", "bad"),
    [
        ("names=nicknames", "names"),
        ("per_station=maybe", "per_station"),
        ("date_from=2025-13-01", "date_from"),
        ("colour=red", "colour"),
        ("format=pdf", "format"),
        ("date_from=2025-02-01&date_to=2025-01-01", "date_to"),
    ],
)
def test_bad_argument_is_400_naming_it(client: FlaskClient, query: str, bad: str) -> None:
    response = client.get(f"/api/audits/ct_dlp_by_protocol?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert set(body["errors"]) == {bad} and bad in body["message"]


def test_standard_names_over_http(client: FlaskClient, ct_store: Store) -> None:
    for raw in ("HEAD ROUTINE", "Routine Head"):
        assert client.post("/api/standard-names", json={**HEAD, "raw": raw}).status_code == 201
    assert (
        client.post("/api/standard-names", json={**HEAD, "raw": "HEAD ROUTINE", "standard": "Head"}).status_code == 201
    )
    listed = client.get("/api/standard-names?modality=CT").get_json()["standard_names"]
    assert [(m["raw"], m["standard"]) for m in listed] == [("HEAD ROUTINE", "Head"), ("Routine Head", "Head")]
    rows = client.get("/api/audits/ct_dlp_by_protocol?names=standard&per_station=no").get_json()["rows"]
    assert [(r["name"], r["count"], r["median"]) for r in rows] == [("CHEST", 1, 200), ("Head", 6, 35)]
    assert (
        client.delete("/api/standard-names?modality=CT&field=acquisition_protocol&raw=Routine+Head").status_code == 204
    )
    assert (
        client.delete("/api/standard-names?modality=CT&field=acquisition_protocol&raw=Routine+Head").status_code == 404
    )
    assert len(client.get("/api/standard-names").get_json()["standard_names"]) == 1


@pytest.mark.parametrize(
    ("body", "bad"),
    [
        ({**HEAD, "raw": ""}, "raw"),
        ({**HEAD, "raw": "x", "modality": "US"}, "modality"),
        ({**HEAD, "raw": "x", "field": "kvp"}, "field"),
        ({**HEAD, "raw": "x", "colour": "red"}, "colour"),
    ],
)
def test_bad_standard_name_is_400_naming_the_field(client: FlaskClient, body: dict[str, Any], bad: str) -> None:
    response = client.post("/api/standard-names", json=body)
    assert response.status_code == 400
    assert set(response.get_json()["errors"]) == {bad}


def test_reference_levels_over_http_flag_groups(client: FlaskClient, ct_store: Store) -> None:
    table = "name,quantity,value,unit\nHEAD ROUTINE,dlp,20,mGy.cm\nCHEST,dlp,2.5,Gy.cm\n"
    response = client.put("/api/reference-levels", data=table, content_type="text/csv")
    assert response.status_code == 200
    levels = client.get("/api/reference-levels").get_json()["reference_levels"]
    assert [(lv["name"], lv["value"], lv["unit"], lv["given"]) for lv in levels] == [
        ("CHEST", 2500, "mGy·cm", "2.5 Gy.cm"), ("HEAD ROUTINE", 20, "mGy·cm", "20 mGy.cm"),
    ]  # fmt: skip
    rows = {r["name"]: r for r in client.get("/api/audits/ct_dlp_by_protocol").get_json()["rows"]}
    assert (rows["HEAD ROUTINE"]["reference_level"], rows["HEAD ROUTINE"]["above_reference"]) == (20, True)
    assert (rows["CHEST"]["reference_level"], rows["CHEST"]["above_reference"]) == (2500, False)
    assert rows["Routine Head"]["above_reference"] is None
    bad = client.put("/api/reference-levels", json=[{"name": "Head", "quantity": "dlp", "value": 5, "unit": "mGy"}])
    assert bad.status_code == 400 and set(bad.get_json()["errors"]) == {"row 1: unit"}
    twice = client.put("/api/reference-levels", data=table + "CHEST,dlp,3,Gy.cm\n", content_type="text/csv")
    assert twice.status_code == 400 and twice.get_json()["errors"] == {
        "row 3: name": ["Expected one level per name and quantity (row 2)."]
    }
    assert len(client.get("/api/reference-levels").get_json()["reference_levels"]) == 2  # unchanged


def test_the_high_dose_audit_lists_the_studies_above_the_study_total_alert_rules(
    client: FlaskClient, store: Store, test_config: dict[str, Any]
) -> None:
    from service import create_app
    from service.errors import ConfigurationError

    for fragment in data.ct_studies():
        save_fragment(store, fragment, now=NOW)
    assert client.get("/api/audits/high_dose_alerts").get_json()["rows"] == []  # the defaults watch no CT total
    rule = {"name": "CT DLP", "kind": "study_total", "modality": "CT", "quantity": "total_dlp", "level": 0.15,
            "unit": "Gy.cm"}  # fmt: skip
    assert client.put("/api/alert-rules", json={"rules": [rule]}).status_code == 200
    rows = client.get("/api/audits/high_dose_alerts").get_json()["rows"]
    assert [(r["study_description"], r["total_dlp"]) for r in rows] == [("CHEST", 200)]
    with pytest.raises(ConfigurationError, match=r"DOSELEDGER_ALERT_LEVELS is no longer read.*alert-rules load"):
        create_app({**test_config, "DOSELEDGER_ALERT_LEVELS": "levels.json"})


def test_standard_names_and_reference_levels_on_the_command_line(runner: Any, tmp_path: Path) -> None:
    assert runner.invoke(["standard-names", "add", "CT", "acquisition_protocol", "HEAD ROUTINE", "Head"]).exit_code == 0
    assert runner.invoke(["standard-names", "add", "MG", "image_view", "CC", "cranio-caudal"]).exit_code == 0
    listed = runner.invoke(["standard-names", "list", "--modality", "CT"])
    assert listed.stdout == "CT\tacquisition_protocol\tHEAD ROUTINE\tHead\n"
    bad = runner.invoke(["standard-names", "add", "CT", "kvp", "x", "y"])
    assert bad.exit_code == 2 and "field" in bad.stderr
    assert runner.invoke(["standard-names", "delete", "CT", "acquisition_protocol", "HEAD ROUTINE"]).exit_code == 0
    assert runner.invoke(["standard-names", "delete", "CT", "acquisition_protocol", "HEAD ROUTINE"]).exit_code == 2
    table = tmp_path / "drl.json"
    table.write_text('[{"name": "Head", "quantity": "dap", "value": 0.5, "unit": "Gy.cm2"}]')
    loaded = runner.invoke(["reference-levels", str(table)])
    assert loaded.exit_code == 0 and loaded.stdout.splitlines()[1:] == ["Head\tdap\t50 cGy·cm²"]
