"""The API answers as its description says: schemathesis against the live app over HTTP.

Every operation of ``/api/openapi.json`` (one test each) is called with
generated arguments and bodies, valid ones and invalid ones, on a database
holding one study of each list modality. Schemathesis' checks then require
that no answer is a 5xx, that its status, content type, headers and body are
those the description declares (every error in the one error shape), and that
invalid data is refused with a 4xx. Examples are bounded (:data:`EXAMPLES` per
operation and mode) so the module takes about a minute on the 2-core CI machine.

Schemathesis drives Hypothesis here through its strategies rather than its
pytest plugin, whose lazy fixture loader reads a pytest internal that pytest
9.2 removed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymongo
import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.schemas import BaseSchema
from werkzeug.serving import make_server

from service import create_app
from service.access import signin
from service.ingest.pipeline import Pipeline
from service.web.apidoc import FORM
from service.web.context import close_store, get_pipeline
from service.web.openapi import described_rules, openapi_path
from tests.signin import TEST_TOKEN, secret_of, signed_in_client

#: generated examples per operation and mode (valid, invalid); CONTRACT_EXAMPLES=500 for a longer hunt,
#: CONTRACT_RANDOM=1 for other examples than the fixed ones CI runs
EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "12"))
RANDOM = os.environ.get("CONTRACT_RANDOM") == "1"
#: what every answer must satisfy; ``positive_data_acceptance`` is left out: the description cannot say
#: what makes a DICOM object, a CSV file or a pair of arguments (date_from after date_to) acceptable, so
#: schema-valid data may rightly be refused with 400 or 422 (which the description declares)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    missing_required_header,
]
#: corpus files in the database while the API is called: one study of each list modality
SEEDED = (
    "CT-RDSR-Siemens-Multi-2.dcm",
    "RF-RDSR-Philips_Allura.dcm",
    "DX-RDSR-Canon_CXDI.dcm",
    "MG-RDSR-Hologic_2D.dcm",
    "NM-RRDSR-Siemens.dcm",
)


#: operations not called with generated data, and why
NOT_GENERATED = {
    # a node at a generated address would be contacted by its C-ECHO and query runs: tests reach this machine
    # only; with no node, those operations answer 404 before any association (tests/test_pacs*.py call them)
    "POST /api/pacs": "adds a remote node at a generated address",
    "POST /pacs": "adds a remote node at a generated address (the page's form)",
}


def _operations() -> list[str]:
    """Return ``METHOD /path`` of every operation of an app built for collection (nothing is connected)."""
    app = create_app({"TESTING": True, "MONGODB_URI": "mongodb://127.0.0.1:1/"})
    found = [f"{method} {openapi_path(rule)}" for rule, method in described_rules(app)]
    assert set(NOT_GENERATED) <= set(found), "an operation left out no longer exists"
    return [operation for operation in found if operation not in NOT_GENERATED]


@contextlib.contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free port from a thread (like conftest's live_server, for a whole module)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def contract_app(
    mongo_uri: str, mongo_client: pymongo.MongoClient[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    """Return an app on a database of this module's own (the operations share it), dropped afterwards."""
    name = f"doseledger_contract_{secrets.token_hex(3)}"
    state = tmp_path_factory.mktemp("contract")
    app = create_app(
        {
            "TESTING": True,
            "MONGODB_URI": mongo_uri,
            "DOSELEDGER_DB_NAME": name,
            "DOSELEDGER_DATA_DIR": str(state / "db"),
        }
    )
    yield app
    close_store(app)
    mongo_client.drop_database(name)


@pytest.fixture(scope="module")
def seeded(contract_app: Flask, corpus: Path) -> list[str]:
    """Import a study of each list modality; return their Study Instance UIDs."""
    with contract_app.app_context():
        pipeline: Pipeline = get_pipeline()
        outcomes = [pipeline.ingest((corpus / n).read_bytes(), name=n, via="cli", client="test") for n in SEEDED]
    assert [outcome.outcome for outcome in outcomes] == ["created"] * len(SEEDED)
    return [str(outcome.study_instance_uid) for outcome in outcomes]


@pytest.fixture(scope="module", autouse=True)
def _failures_never_slowed() -> Iterator[None]:
    """Let every probe with a bad token be answered 401: DoseLedger slows an address after 5 failures (429).

    Schemathesis sends each operation without and with made-up credentials to
    see that sign-in is enforced; from one address, so the sixth would rightly be
    refused as brute force. That is tested in tests/test_signin.py.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(signin, "MAX_FAILURES", 1_000_000)
        yield


@pytest.fixture(scope="module")
def credentials(contract_app: Flask) -> dict[str, str]:
    """Return the headers of the test user, who holds every role (tests.signin)."""
    signed_in_client(contract_app)
    return {"Authorization": f"Bearer {secret_of(TEST_TOKEN)}"}


@pytest.fixture(scope="module")
def described(contract_app: Flask, seeded: list[str], credentials: dict[str, str]) -> Iterator[BaseSchema]:
    """Serve the app; return its description as loaded over HTTP."""
    with serve(contract_app) as url:
        yield schemathesis.openapi.from_url(f"{url}/api/openapi.json", headers=dict(credentials), timeout=30)


def _exercise(case_strategy: Any, headers: dict[str, str], checks: list[Any]) -> None:
    """Call the operation with :data:`EXAMPLES` generated cases; fail on the first answer a check refuses."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=not RANDOM,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=case_strategy)
    def call(case: Any) -> None:
        case.call_and_validate(headers=dict(headers), checks=checks, timeout=60)  # a copy: schemathesis adds to it

    call()


@pytest.mark.parametrize("operation", _operations())
def test_the_operation_answers_as_described(operation: str, described: BaseSchema, credentials: dict[str, str]) -> None:
    method, path = operation.split(" ", 1)
    found = described[path][method]
    checks = [*CHECKS, ignored_auth]
    if FORM in (found.definition.raw.get("requestBody", {}).get("content", {})):
        # an HTML form answers bad input with the form again (200) or back to its page (303), as browsers expect
        checks = [check for check in checks if check is not negative_data_rejection]
    _exercise(found.as_strategy(GenerationMode.POSITIVE), credentials, checks)
    with contextlib.suppress(Unsatisfiable):  # nothing it takes can be made invalid (no arguments, optional fields)
        _exercise(found.as_strategy(GenerationMode.NEGATIVE), credentials, checks)


def test_the_seeded_studies_answer_as_described(
    described: BaseSchema, seeded: list[str], credentials: dict[str, str]
) -> None:
    operation = described["/api/studies/{study_instance_uid}"]["GET"]
    for uid in seeded:
        case = operation.Case(path_parameters={"study_instance_uid": uid})
        response = case.call_and_validate(headers=dict(credentials), checks=CHECKS)
        assert response.status_code == 200 and response.json()["study_instance_uid"] == uid
    case = described["/api/studies"]["GET"].Case(query={"page_size": 2})
    listing = case.call_and_validate(headers=dict(credentials), checks=CHECKS)
    assert listing.json()["total"] == len(SEEDED) and len(listing.json()["items"]) == 2
