"""Shared test fixtures: the sample corpus, one database server per session, app, client, runner, the SCP.

The session starts ONE SecantusDB server on a free port with a temporary data
directory, or uses ``MONGODB_URI`` when it is set (so the suite also runs against
a real MongoDB). Either way every test gets a database of its own,
``doseledger_test_<session>_<n>``, dropped afterwards; real data is never touched.
pytest-mongodb's ``mongodb`` fixture is bound to that database (engine pymongo).
Under ``CI=true`` a skipped test fails: CI must run everything.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymongo
import pytest
from flask import Flask
from flask.testing import FlaskClient
from pytest_mongodb.plugin import load_fixtures
from werkzeug.serving import make_server

from service import create_app
from service.config import load_settings
from service.dicomnet.scp import StorageSCP
from service.ingest.pipeline import Pipeline
from service.storage import Store
from service.storage.embedded import EmbeddedServer, free_port
from service.web.context import close_store, get_store
from tests import dcmtk, pacsdata
from tests.arrivals import Received, corpus_files, received
from tests.fakepacs import FakePacs
from tests.pacsdata import Study
from tests.signin import TEST_TOKEN, client_with_roles, secret_of, signed_in_client

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def corpus() -> Path:
    """Return the sample corpus folder; skip without it, except under CI where it must exist."""
    path = Path(os.environ.get("DOSELEDGER_CORPUS", ROOT.parent / "shared" / "corpus"))
    if not (path / "expected.json").is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the sample corpus is missing at {path}; set DOSELEDGER_CORPUS")
        pytest.skip(f"the sample corpus is not at {path} (set DOSELEDGER_CORPUS to run these tests)")
    return path


@pytest.fixture(scope="session")
def expected(corpus: Path) -> dict[str, Any]:
    """Return the values OpenREM asserts for each corpus file (expected.json)."""
    return json.loads((corpus / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def scenarios(corpus: Path) -> dict[str, Any]:
    """Return the behaviours across several files (scenarios.json), by scenario id."""
    return {s["id"]: s for s in json.loads((corpus / "scenarios.json").read_text(encoding="utf-8"))}


_SESSION = secrets.token_hex(3)
_numbers = itertools.count(1)
_CI = os.environ.get("CI") == "true"
#: the environment a developer may have set; tests start without it
_OWN_VARIABLES = ("MONGODB_URI", "MONGODB_URI_FILE")
_OWN_PREFIX = "DOSELEDGER_"
_KEEP = ("DOSELEDGER_CORPUS", "DOSELEDGER_PATIENT_KEY_SECRET")
#: the patient-key secret of every test (set by _patient_key_secret): studies compare across tests, keys included
PATIENT_KEY_SECRET = "test-patient-key-secret-" + "0" * 40


_uri_key = pytest.StashKey[str | None]()


def pytest_configure(config: pytest.Config) -> None:
    """Remember MONGODB_URI before tests clear the environment."""
    config.stash[_uri_key] = os.environ.get("MONGODB_URI") or None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under CI=true turn a skip into a failure: CI must not pass by skipping."""
    outcome = yield
    report = outcome.get_result()
    if _CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which must run every test: {report.longrepr}"


@pytest.fixture(scope="session")
def mongo_uri(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Return the URI of the session's server: MONGODB_URI, or a SecantusDB started for the session."""
    uri = request.config.stash[_uri_key]
    if uri:
        yield uri
        return
    server = EmbeddedServer(tmp_path_factory.mktemp("secantus") / "db", free_port())
    server.start(timeout=60)
    request.config.option.mongodb_host = server.uri  # pytest-mongodb's own option, for its helpers
    try:
        yield server.uri
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mongo_client(mongo_uri: str) -> Iterator[pymongo.MongoClient[dict[str, Any]]]:
    """Return one client on the session's server."""
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(mongo_uri, serverSelectionTimeoutMS=10000)
    yield client
    client.close()


@pytest.fixture(scope="session", autouse=True)
def _patient_key_secret() -> Iterator[None]:
    """Give every test one patient-key secret, so that no test writes one and keys agree between databases."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOSELEDGER_PATIENT_KEY_SECRET", PATIENT_KEY_SECRET)
        yield


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run every test without the developer's DoseLedger settings, and with a data folder of its own.

    The state files (the session and patient-key secrets, the first admin's password) go beside the
    data folder, so a test that builds an app without one never writes into the checkout's ``var/``.
    """
    for name in list(os.environ):
        if (name in _OWN_VARIABLES or name.startswith(_OWN_PREFIX)) and name not in _KEEP:
            monkeypatch.delenv(name)
    monkeypatch.setenv("DOSELEDGER_DATA_DIR", str(tmp_path / "var" / "db"))


@pytest.fixture
def db_name(mongo_client: pymongo.MongoClient[dict[str, Any]]) -> Iterator[str]:
    """Return the name of a fresh database for this test, dropped afterwards."""
    name = f"doseledger_test_{_SESSION}_{next(_numbers)}"
    yield name
    mongo_client.drop_database(name)


@pytest.fixture
def mongodb(mongo_client: pymongo.MongoClient[dict[str, Any]], db_name: str, pytestconfig: pytest.Config) -> Any:
    """Override pytest-mongodb's fixture: this test's database, with tests/fixtures/mongodb loaded.

    The plugin's own fixture opens a client per test and never closes it; this
    one shares the session's client and database naming.
    """
    database = mongo_client[db_name]
    load_fixtures(database, pytestconfig)
    return database


@pytest.fixture
def test_config(mongo_uri: str, db_name: str, tmp_path: Path) -> dict[str, Any]:
    """Return the test mapping given to create_app (and the environment of CLI tests).

    The data folder is the test's own: the secret key and the first admin's
    password file are written beside it (its parent), never into the repository.
    """
    return {
        "TESTING": True,
        "MONGODB_URI": mongo_uri,
        "DOSELEDGER_DB_NAME": db_name,
        "DOSELEDGER_DATA_DIR": str(tmp_path / "state" / "db"),
    }


@pytest.fixture
def app(test_config: dict[str, Any]) -> Iterator[Flask]:
    """Return an application bound to this test's database."""
    app = create_app(test_config)
    yield app
    close_store(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Return a test client of ``app`` signed in with every role (the API token of ``tests.signin.TEST_USER``)."""
    return signed_in_client(app)


@pytest.fixture
def anonymous(app: Flask) -> FlaskClient:
    """Return a test client of ``app`` without credentials."""
    return app.test_client()


@pytest.fixture
def client_with(app: Flask) -> Callable[..., FlaskClient]:
    """Return a maker of clients whose token's user holds the roles given: ``client_with("viewer")``."""
    return lambda *roles: client_with_roles(app, roles)


@pytest.fixture
def store(app: Flask) -> Store:
    """Return the store of ``app`` (indexes created)."""
    with app.app_context():
        return get_store()


@pytest.fixture
def pipeline(app: Flask, store: Store) -> Pipeline:
    """Return an ingest pipeline on ``store`` configured like ``app``."""
    return Pipeline.from_settings(store, app.config["DOSELEDGER_SETTINGS"])


@pytest.fixture(scope="module")
def imported(corpus: Path, mongo_uri: str) -> Iterator[Received]:
    """Return the studies ``doseledger import`` makes of the corpus (imported once per module)."""
    store = Store.connect(mongo_uri, f"doseledger_reference_{_SESSION}_{next(_numbers)}")
    store.ensure_indexes()
    # the developer's environment is not cleaned yet at module scope: only the session's secret is read
    settings = load_settings({"DOSELEDGER_PATIENT_KEY_SECRET": PATIENT_KEY_SECRET})
    pipeline = Pipeline.from_settings(store, settings)
    for path in corpus_files(corpus):
        pipeline.ingest(path.read_bytes(), name=path.name, via="cli", client="test")
    yield received(store)
    store.client.drop_database(store.db.name)
    store.close()


@pytest.fixture
def scp_port() -> int:
    """Return the port the ``scp`` fixture listens on: 0, any free one (a module may override it)."""
    return 0


@pytest.fixture
def scp(pipeline: Pipeline, scp_port: int) -> Iterator[StorageSCP]:
    """Return a started Storage SCP with default settings (AE title DOSELEDGER) ingesting into ``pipeline``."""
    dcmtk.require("storescu")
    server = StorageSCP.for_pipeline(pipeline, load_settings({}), port=scp_port)
    server.start()
    yield server
    server.stop(grace=0)


@pytest.fixture
def studies() -> dict[str, Study]:
    """Return the hand-built studies a fake PACS holds (tests/pacsdata.py)."""
    return pacsdata.build()


@pytest.fixture
def fake(studies: dict[str, Study], scp: StorageSCP) -> Iterator[FakePacs]:
    """Run a PACS built in the test holding ``studies``, sending its C-MOVEs to ``scp`` (AE title DOSELEDGER)."""
    pacs = FakePacs(pacsdata.datasets(studies))
    pacs.destinations["DOSELEDGER"] = ("127.0.0.1", scp.port)
    pacs.start()
    yield pacs
    pacs.stop()


@dataclass
class Result:
    """What one run of the command line did."""

    exit_code: int
    stdout: str
    stderr: str


class Runner:
    """Run ``doseledger`` in-process against this test's database."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, environment: dict[str, Any]) -> None:
        self.monkeypatch = monkeypatch
        self.environment = {key: str(value) for key, value in environment.items() if key != "TESTING"}

    def invoke(self, args: Sequence[str | Path], **environment: str) -> Result:
        """Run the command with ``args`` and extra environment variables."""
        from scripts.cli import main

        with self.monkeypatch.context() as patch:
            for key, value in {**self.environment, **environment}.items():
                patch.setenv(key, value)
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main([str(arg) for arg in args])
        return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, test_config: dict[str, Any]) -> Runner:
    """Return a runner of the command line bound to this test's database."""
    return Runner(monkeypatch, test_config)


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free port from a thread; return its base URL and stop it afterwards."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Return a headless chromium from /usr/bin/chromium, one per test module (skip without it or Playwright)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the test extra (playwright) is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any, live_server: str, app: Flask) -> Iterator[Any]:
    """Return a chromium page 1280 px wide whose relative URLs go to ``live_server``, signed in with every role.

    Every request of the page carries the API token of ``tests.signin.TEST_USER``
    (tests/test_signin_browser.py signs in through the form instead).
    """
    signed_in_client(app)
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        base_url=live_server,
        extra_http_headers={"Authorization": f"Bearer {secret_of(TEST_TOKEN)}"},
    )
    try:
        yield context.new_page()
    finally:
        context.close()
