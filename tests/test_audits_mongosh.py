"""The mongosh scripts run the same pipelines as the HTTP API and give the same numbers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from flask.testing import FlaskClient

from service.audits import filters
from service.audits.filters import filter_arguments
from service.ingest.document import save_fragment
from service.ingest.pipeline import Pipeline
from service.storage import Store
from tests import auditdata as data

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts" / "mongosh"
HEAD = {"modality": "CT", "field": "acquisition_protocol", "standard": "Head"}


@pytest.fixture(scope="session")
def mongosh() -> str:
    found = shutil.which("mongosh")
    if found is None:
        pytest.skip("mongosh is not installed (npm install -g mongosh; .ci/run installs it)")
    return found


def database_uri(mongo_uri: str, db_name: str) -> str:
    """Return ``mongo_uri`` naming database ``db_name``."""
    parts = urlsplit(mongo_uri)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db_name}", parts.query, parts.fragment))


def start_mongosh(
    mongosh: str, uri: str, name: str, *, evaluate: str | None = None, **params: str
) -> subprocess.CompletedProcess[str]:
    """Run audit script ``name`` with ``params`` as AUDIT_<NAME> variables (and ``--eval evaluate``)."""
    environment = {**os.environ, "AUDIT_FORMAT": "json", **{f"AUDIT_{k.upper()}": v for k, v in params.items()}}
    before = ["--eval", evaluate] if evaluate else []
    return subprocess.run(
        [mongosh, "--quiet", "--norc", uri, *before, str(SCRIPTS / f"{name}.js")],
        capture_output=True, text=True, env=environment, timeout=120, check=False,
    )  # fmt: skip


def run_mongosh(mongosh: str, uri: str, name: str, **params: str) -> list[dict[str, Any]]:
    done = start_mongosh(mongosh, uri, name, **params)
    assert done.returncode == 0, done.stdout + done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return rows


def run_http(client: FlaskClient, name: str, **params: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/audits/{name}", query_string=params)
    assert response.status_code == 200, response.get_json()
    rows: list[dict[str, Any]] = response.get_json()["rows"]
    return rows


def test_every_audit_has_its_script() -> None:
    from service.audits.pipeline import audits

    assert {p.stem for p in SCRIPTS.glob("*.js")} == set(audits())


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("ct_dlp_by_protocol", {}),
        ("ct_dlp_by_protocol", {"names": "standard", "per_station": "no"}),
        ("ct_dlp_by_protocol", {"interval": "month", "date_from": "2025-01-07", "date_to": "2025-02-03"}),
        ("ct_ctdivol_by_study_description", {"station_name": "south", "study_description": "head"}),
        ("ct_dlp_by_study_description", {"names": "standard"}),
        ("workload", {}),
    ],
)
def test_mongosh_and_http_agree(
    mongosh: str, client: FlaskClient, store: Store, mongo_uri: str, db_name: str, name: str, params: dict[str, str]
) -> None:
    data.seed_ct(store)
    store.set_standard_name({**HEAD, "raw": "HEAD ROUTINE"})
    store.set_standard_name({**HEAD, "raw": "Routine Head"})
    over_http = run_http(client, name, **params)
    assert over_http  # the filters leave something to compare
    assert run_mongosh(mongosh, database_uri(mongo_uri, db_name), name, **params) == over_http


def test_corpus_ct_dlp_per_protocol_in_mongosh_equals_http(
    mongosh: str, client: FlaskClient, pipeline: Pipeline, corpus: Path, mongo_uri: str, db_name: str
) -> None:
    for name in data.CORPUS_CT:
        pipeline.ingest((corpus / name).read_bytes(), name=name, via="cli", client="test")
    over_http = run_http(client, "ct_dlp_by_protocol")
    assert len(over_http) > 3
    assert run_mongosh(mongosh, database_uri(mongo_uri, db_name), "ct_dlp_by_protocol") == over_http


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("mg_agd_by_thickness", {}),
        ("mg_agd_by_thickness", {"names": "standard", "per_station": "no"}),
        ("mg_agd_by_thickness", {"names": "standard", "interval": "month"}),
        ("nm_activity_by_agent", {"per_station": "no"}),
        ("nm_activity_by_agent", {"names": "standard"}),
    ],
)
def test_mongosh_groups_codes_as_the_api_does(
    mongosh: str, client: FlaskClient, store: Store, mongo_uri: str, db_name: str, name: str,
    params: dict[str, str],
) -> None:  # fmt: skip
    for fragment in data.coded_studies():  # one code sent with several meanings, codes sharing one, text only
        save_fragment(store, fragment, now=data.NOW)
    store.set_standard_name({**data.VIEW, "raw": "cranio-caudal", "standard": "CC"})
    store.set_standard_name({**data.AGENT, "raw": "Fluorodeoxyglucose F^18^", "standard": "FDG F-18"})
    over_http = client.get(f"/api/audits/{name}", query_string=params).get_json()["rows"]
    assert len({row["code"] for row in over_http}) >= 2
    assert run_mongosh(mongosh, database_uri(mongo_uri, db_name), name, **params) == over_http


#: (audit, arguments kept, filter) cases: the filter must change the audit's rows, and mongosh must agree
FILTER_CASES = [
    ("workload", {}, {"modality": "CT"}),  # the hybrid CT+RF study too
    ("workload", {}, {"modality": "mg"}),
    ("workload", {}, {"station_name": "south"}),
    ("workload", {}, {"manufacturer": "ge"}),
    ("workload", {}, {"manufacturer_model_name": "force"}),
    ("workload", {}, {"institution_name": "NORTH"}),
    ("workload", {}, {"study_description": "head"}),
    ("workload", {}, {"study_description": "ct (con"}),  # matched literally, not as a regular expression
    ("workload", {}, {"requested_procedure_description": "angio"}),
    ("workload", {}, {"accession_number": "c-2"}),
    ("workload", {}, {"acquisition_protocol": "head"}),  # CT and fluoroscopy events ($or of two paths)
    ("workload", {"modality": "RF"}, {"acquisition_protocol": "head"}),  # RF: fluoroscopy events only
    ("workload", {}, {"age_min": "60"}),
    ("workload", {}, {"age_max": "45"}),
    ("workload", {}, {"weight_min": "70", "weight_max": "85"}),
    ("workload", {}, {"events_min": "3"}),
    ("workload", {}, {"events_max": "1"}),
    ("workload", {"modality": "CT"}, {"dose_min": "100"}),  # mGy·cm, as stored
    ("workload", {"modality": "CT"}, {"dose_max": "100"}),
    ("workload", {"modality": "RF"}, {"dose_min": "100"}),  # cGy·cm², stored in Gy·m²
    ("workload", {"modality": "RF"}, {"dose_max": "30"}),
    ("workload", {"modality": "MG"}, {"dose_min": "2"}),  # either breast: one left, one right
    ("workload", {"modality": "MG"}, {"dose_max": "0.95"}),
    ("workload", {"modality": "NM"}, {"dose_min": "300", "dose_max": "400"}),
    ("ct_dlp_by_protocol", {"names": "raw"},
     {"modality": "CT", "station_name": "south", "acquisition_protocol": "head", "dose_min": "100", "age_min": "60",
      "date_from": "2025-01-07", "date_to": "2025-01-15"}),
    ("mg_agd_by_thickness", {}, {"modality": "MG", "dose_min": "2", "weight_max": "70", "institution_name": "north"}),
    ("rf_dap_by_protocol", {"per_station": "no"}, {"acquisition_protocol": "angio", "events_max": "2"}),
    ("workload", {}, {"test_patients": "include"}),  # audits leave test patients out unless asked
    ("ct_dlp_by_protocol", {"per_station": "no"}, {"test_patients": "only"}),
    ("workload", {}, {"patient_key": data.PATIENT_KEY}),  # one patient's studies (the client holds pid)
]  # fmt: skip


def case_id(name: str, kept: dict[str, str], chosen: dict[str, str]) -> str:
    return "-".join([name, *(f"{key}={value}" for key, value in {**kept, **chosen}.items())])


@pytest.mark.parametrize(("name", "kept", "chosen"), FILTER_CASES, ids=[case_id(*case) for case in FILTER_CASES])
def test_each_list_filter_selects_the_same_studies_in_mongosh(
    mongosh: str,
    client: FlaskClient,
    store: Store,
    mongo_uri: str,
    db_name: str,
    name: str,
    kept: dict[str, str],
    chosen: dict[str, str],
) -> None:
    data.seed_filters(store)
    over_http = run_http(client, name, **kept, **chosen)
    assert over_http  # the filter selects something...
    assert over_http != run_http(client, name, **kept)  # ...and not what the audit gives without it
    assert run_mongosh(mongosh, database_uri(mongo_uri, db_name), name, **kept, **chosen) == over_http


def test_the_filter_cases_cover_every_list_filter() -> None:
    assert set(filter_arguments()) <= {key for _, kept, chosen in FILTER_CASES for key in (*kept, *chosen)}


def test_filters_json_is_generated_from_the_python_tables() -> None:
    assert filters.PATH.read_text(encoding="utf-8") == filters.render(), (
        "service/audits/filters.json is stale; regenerate it: PYTHONPATH=. .venv/bin/python -m service.audits.filters"
    )


def test_mongosh_builds_every_list_argument_that_selects_studies() -> None:
    # a new list argument outside the tables audit.js reads lands here (refused by mongosh): teach audit.js to build it
    assert filters.definitions()["not_filters"] == ["order", "page_size", "after"]


def test_match_adds_to_the_filters_rather_than_replacing_one(
    mongosh: str, client: FlaskClient, store: Store, mongo_uri: str, db_name: str
) -> None:
    data.seed_filters(store)
    over_http = run_http(client, "workload", station_name="south")
    every = '{"equipment.station_name": {"$exists": true}}'  # the same key as station_name's clause
    uri = database_uri(mongo_uri, db_name)
    assert run_mongosh(mongosh, uri, "workload", station_name="south", match=every) == over_http


#: arguments the API refuses too, and the message mongosh stops with
BAD_PARAMETERS = [
    ({"names": "nicknames"}, "names: Expected one of raw, standard."),
    ({"station": "south"}, "station: Unknown parameter; expected one of names, per_station, interval, modality,"),
    ({"age_min": "60", "age_max": "30"}, "age_max: Expected age_max on or after age_min."),
    ({"date_from": "2025-02-01", "date_to": "2025-01-31"}, "date_to: Expected date_to on or after date_from."),
    ({"dose_min": "5"}, "dose_min: Expected together with modality (the dose is the modality's)."),
    ({"modality": "XR"}, "modality: Expected one of CT, RF, DX, MG, NM."),
    ({"weight_max": "heavy"}, "weight_max: Expected a number."),
    ({"events_min": "-1"}, "events_min: Expected a number of at least 0."),
    ({"date_to": "2025-02-30"}, "date_to: Expected a date as YYYY-MM-DD."),
    ({"station_name": "x" * 201}, "station_name: Expected at most 200 characters."),
    ({"test_patients": "yes"}, "test_patients: Expected one of include, exclude, only."),
    ({"patient_key": "Smith"}, "patient_key: Expected a patient key: 64 hexadecimal digits."),
]


@pytest.mark.parametrize(("params", "message"), BAD_PARAMETERS, ids=["-".join(p) for p, _ in BAD_PARAMETERS])
def test_a_bad_parameter_stops_the_script_naming_it(
    mongosh: str, client: FlaskClient, mongo_uri: str, db_name: str, params: dict[str, str], message: str
) -> None:
    done = start_mongosh(mongosh, database_uri(mongo_uri, db_name), "ct_dlp_by_protocol", **params)
    assert done.returncode == 2
    assert f"ct_dlp_by_protocol: {message}" in done.stdout
    refused = client.get("/api/audits/ct_dlp_by_protocol", query_string=params)  # the API refuses it too
    assert refused.status_code == 400
    assert message.split(":")[0] in refused.get_json()["errors"]


def test_an_unknown_key_of_params_stops_the_script_naming_it(mongosh: str, mongo_uri: str, db_name: str) -> None:
    uri = database_uri(mongo_uri, db_name)
    done = start_mongosh(mongosh, uri, "workload", evaluate='var params = {statoin_name: "south"}')
    assert done.returncode == 2
    assert "workload: statoin_name: Unknown parameter;" in done.stdout


def test_a_list_argument_that_selects_nothing_is_refused_rather_than_ignored(
    mongosh: str, mongo_uri: str, db_name: str
) -> None:
    done = start_mongosh(mongosh, database_uri(mongo_uri, db_name), "workload", order="station_name")
    assert done.returncode == 2
    assert "workload: order: The mongosh audits do not take this list argument." in done.stdout


def test_an_environment_variable_for_other_audits_is_noted_not_refused(
    mongosh: str, mongo_uri: str, db_name: str
) -> None:
    """AUDIT_NAMES exported for the protocol audits does not stop workload, which takes no names."""
    uri = database_uri(mongo_uri, db_name)
    done = start_mongosh(mongosh, uri, "workload", names="standard")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(AUDIT_NAMES is not used: this audit takes no names)" in done.stdout
    asked = start_mongosh(mongosh, uri, "workload", evaluate='var params = {names: "standard"}')
    assert asked.returncode == 2  # asked for by name, it is refused as the API refuses it
    assert "workload: names: Unknown parameter;" in asked.stdout
