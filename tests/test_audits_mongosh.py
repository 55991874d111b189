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

from service.ingest import Pipeline
from service.store import Store
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


def run_mongosh(mongosh: str, uri: str, name: str, **params: str) -> list[dict[str, Any]]:
    environment = {**os.environ, "AUDIT_FORMAT": "json", **{f"AUDIT_{k.upper()}": v for k, v in params.items()}}
    done = subprocess.run(
        [mongosh, "--quiet", "--norc", uri, str(SCRIPTS / f"{name}.js")],
        capture_output=True, text=True, env=environment, timeout=120, check=False,
    )  # fmt: skip
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


def test_a_bad_parameter_stops_the_script_naming_it(mongosh: str, mongo_uri: str, db_name: str) -> None:
    done = subprocess.run(
        [mongosh, "--quiet", "--norc", database_uri(mongo_uri, db_name), str(SCRIPTS / "ct_dlp_by_protocol.js")],
        capture_output=True, text=True, env={**os.environ, "AUDIT_NAMES": "nicknames"}, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "names: Expected one of raw, standard." in done.stdout
