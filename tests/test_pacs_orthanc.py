"""Query/retrieve from a real PACS: Debian's Orthanc holding the corpus, DoseLedger's SCP in its modalities.

Orthanc runs for the module (tests/orthanc.py) with the corpus stored over its
REST API and DoseLedger's SCP as the modality ``doseledger``, so that it accepts
DoseLedger's C-FIND, C-MOVE and C-GET and can send a C-MOVE's objects. The
studies a run gives must be exactly those ``doseledger import`` makes of the
same files: the files whose Study Date is in the run's range (Orthanc, like any
PACS, does not match a study without a date to a range: DX-Im-Date-Missing.dcm)
and whose studies pass the run's filters, imported in the order they were made,
the order in which a run takes a study's series (tests.arrivals.chronological).
Merging is not indifferent to order (the last report's header values win, the
first of two images of one exposure keeps it), and a PACS sends the objects of
one series in an order of its own; so arrays are compared as sets
(tests.arrivals.unordered).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pydicom
import pytest

from service.config import Settings, load_settings
from service.dicomnet.nodes import Node
from service.dicomnet.runs import Runner, new_run
from service.dicomnet.schedule import Background, resume_abandoned
from service.dicomnet.scp import StorageSCP
from service.dicomnet.selection import Criteria
from service.ingest.pipeline import Pipeline
from service.storage import Store, utcnow
from service.storage.embedded import EmbeddedServer, free_port
from tests import orthanc as pacs
from tests.arrivals import Studies, chronological, corpus_files, studies, unordered
from tests.orthanc import Orthanc

PACS_AET = "ORTHANC_PACS"
OWNER = "pytest:1"
#: every corpus study with a date but the one of 1997
RANGE = Criteria(date(2010, 1, 1), date(2030, 12, 31))


def modalities(orthanc: Orthanc) -> dict[str, list[object]]:
    """Return the modality Orthanc knows: DoseLedger, which queries it and receives its C-MOVEs."""
    return {"doseledger": ["DOSELEDGER", "127.0.0.1", orthanc.doseledger_port]}


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Iterator[Orthanc]:
    """Run Orthanc for the module with the corpus stored in it."""
    with pacs.running(tmp_path_factory.mktemp("orthanc"), PACS_AET, modalities) as running:
        running.upload(corpus_files(corpus))
        yield running


@pytest.fixture
def scp_port(orthanc: Orthanc) -> int:
    """Start DoseLedger's SCP where Orthanc sends C-MOVEs."""
    return orthanc.doseledger_port


@pytest.fixture
def settings() -> Settings:
    return load_settings(overrides={"DOSELEDGER_PACS_TIMEOUT": "10"})


def add_node(store: Store, orthanc: Orthanc, retrieve: str = "move") -> Node:
    node = Node("orthanc", PACS_AET, "127.0.0.1", orthanc.dicom_port, retrieve)
    store.add_pacs_node(node.as_document())
    return node


def run(pipeline: Pipeline, settings: Settings, node: Node, criteria: Criteria) -> dict[str, Any]:
    record = new_run(pipeline.store, node, criteria, trigger="test", client="pytest", owner=OWNER)
    return Runner(pipeline, settings, record, owner=OWNER).execute()


def headers(path: Path) -> pydicom.Dataset:
    return pydicom.dcmread(path, stop_before_pixels=True)


def in_range(criteria: Criteria) -> Callable[[pydicom.Dataset], bool]:
    low, high = f"{criteria.date_from:%Y%m%d}", f"{criteria.date_to:%Y%m%d}"
    return lambda ds: bool(ds.get("StudyDate")) and low <= ds.StudyDate <= high


@pytest.fixture
def imported_where(corpus: Path, mongo_uri: str) -> Iterator[Callable[[Callable[[pydicom.Dataset], bool]], Studies]]:
    """Return what ``doseledger import`` makes of the corpus files whose headers pass a test, in the order they were made."""
    stores: list[Store] = []

    def imported(wanted: Callable[[pydicom.Dataset], bool]) -> Studies:
        store = Store.connect(mongo_uri, f"doseledger_expected_{secrets.token_hex(4)}")
        stores.append(store)
        store.ensure_indexes()
        pipeline = Pipeline.from_settings(store, load_settings())  # the session's patient-key secret
        for path in chronological(corpus_files(corpus)):
            if wanted(headers(path)):
                pipeline.ingest(path.read_bytes(), name=path.name, via="cli", client="test")
        return unordered(studies(store))

    yield imported
    for store in stores:
        store.client.drop_database(store.db.name)
        store.close()


def test_a_move_run_makes_the_studies_an_import_makes_and_a_second_run_fetches_nothing(
    pipeline: Pipeline, store: Store, settings: Settings, orthanc: Orthanc, scp: StorageSCP, imported_where: Any
) -> None:
    node = add_node(store, orthanc)
    first = run(pipeline, settings, node, RANGE)
    assert first["status"] == "completed", store.run_studies(first["_id"], status="failed")
    assert unordered(studies(store)) == imported_where(in_range(RANGE))
    objects = [e for e in store.events_after(0, 1000) if e["type"] != "pacs-run"]
    assert {(e["via"], e["client"], e["details"]["pacs"]["run"]) for e in objects} == {
        ("dicom", f"{PACS_AET}@127.0.0.1", first["_id"])
    }
    assert first["counts"]["objects"]["rejected"] == 1  # ESR_non-dose.dcm, kept and not asked for again
    log = len(store.events_after(0, 1000))
    second = run(pipeline, settings, node, RANGE)
    assert second["counts"]["objects"]["requested"] == 0
    assert (
        second["counts"]["studies"]["skipped"]
        == second["counts"]["studies"]["found"]
        == first["counts"]["studies"]["found"]
    )
    assert len(store.events_after(0, 1000)) == log + 1  # its summary, no object


def test_a_station_exclude_leaves_out_the_studies_of_that_station(
    pipeline: Pipeline, store: Store, settings: Settings, orthanc: Orthanc, scp: StorageSCP, imported_where: Any
) -> None:
    criteria = Criteria(RANGE.date_from, RANGE.date_to, exclude_stations=("kodak",))
    result = run(pipeline, settings, add_node(store, orthanc), criteria)
    kept = in_range(RANGE)
    assert unordered(studies(store)) == imported_where(
        lambda ds: kept(ds) and "KODAK" not in str(ds.get("StationName", ""))
    )
    (excluded,) = store.run_studies(result["_id"], status="excluded")
    assert excluded["stations"] == ["KODAK7500"] and result["status"] == "completed"


def test_a_modality_run_fetches_the_studies_with_that_modality(
    pipeline: Pipeline, store: Store, settings: Settings, orthanc: Orthanc, scp: StorageSCP, imported_where: Any
) -> None:
    criteria = Criteria(RANGE.date_from, RANGE.date_to, modalities=("MG",))
    result = run(pipeline, settings, add_node(store, orthanc), criteria)
    assert result["counts"]["studies"]["found"] == 2  # the MG reports' studies hold SR only (criteria SR finds them)
    assert unordered(studies(store)) == imported_where(lambda ds: ds.Modality == "MG")


def test_a_get_run_makes_the_studies_an_import_makes(
    pipeline: Pipeline, store: Store, settings: Settings, orthanc: Orthanc, imported_where: Any
) -> None:
    result = run(pipeline, settings, add_node(store, orthanc, "get"), RANGE)
    assert result["status"] == "completed"
    assert unordered(studies(store)) == imported_where(in_range(RANGE))
    assert {e["client"] for e in store.events_after(0, 1000)} == {f"{PACS_AET}@127.0.0.1"}


def test_a_run_while_the_database_is_stopped_reports_each_study_and_is_completed_later(
    tmp_path: Path, orthanc: Orthanc, settings: Settings, imported_where: Any
) -> None:
    criteria = Criteria(date(2018, 1, 1), date(2018, 12, 31))  # four studies
    port, data = free_port(), tmp_path / "db"
    server = EmbeddedServer(data, port)
    server.start()
    try:
        setup = Store.connect(server.uri, "doseledger")
        setup.ensure_indexes()
        record = new_run(setup, add_node(setup, orthanc), criteria, trigger="test", client="pytest", owner=OWNER)
        setup.close()
        # a short deadline, so that each operation against the stopped server fails at once
        with _scp_on(Store.connect(server.uri, "doseledger", timeout=0.3), orthanc, settings) as pipeline:
            reported: list[str] = []
            runner = Runner(pipeline, settings, record, owner=OWNER, on_study=lambda r, c: reported.append(r.message))
            server.stop()
            stopped = runner.execute()
        assert stopped["status"] == "incomplete"
        assert stopped["message"] == (
            "4 studies: 0 fetched, 0 skipped, 0 excluded, 4 failed. The next run retries the failed ones."
        )
        assert len(reported) == 4 and all(m.startswith("DoseLedger's database is unavailable (") for m in reported)
        server = EmbeddedServer(data, port)
        server.start()
        # the service started again, with the usual deadline; the run's end was not written:
        # once its lease runs out, the scheduler resumes it
        with _scp_on(Store.connect(server.uri, "doseledger"), orthanc, settings) as pipeline:
            store = pipeline.store
            store.db.pacs_runs.update_one(
                {"_id": record["_id"]}, {"$set": {"lease_until": utcnow() - timedelta(seconds=1)}}
            )
            background = Background()
            assert resume_abandoned(pipeline, settings, background) == [record["_id"]]
            background.wait()
            resumed = store.get_run(record["_id"])
            assert resumed["status"] == "completed" and resumed["counts"]["studies"]["fetched"] == 4
            assert unordered(studies(store)) == imported_where(in_range(criteria))
    finally:
        server.stop()


@contextlib.contextmanager
def _scp_on(store: Store, orthanc: Orthanc, settings: Settings) -> Iterator[Pipeline]:
    """Run DoseLedger's SCP, where Orthanc sends its C-MOVEs, on a pipeline over ``store`` while the block runs."""
    pipeline = Pipeline.from_settings(store, settings)
    scp = StorageSCP.for_pipeline(pipeline, settings, port=orthanc.doseledger_port)
    scp.start()
    try:
        yield pipeline
    finally:
        scp.stop()
        store.close()
