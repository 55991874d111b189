"""Query/retrieve runs against a PACS built in the test (tests/fakepacs.py) holding hand-built studies (tests/pacsdata.py).

Each test knows which objects must be fetched: the runs retrieve them through
DoseLedger's own Storage SCP (C-MOVE) or on their association (C-GET) into the
real pipeline and store, and report what happened per study.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
from pydicom.uid import generate_uid

from service.config import Settings, load_settings
from service.dicomnet.nodes import Node
from service.dicomnet.runs import Runner, new_run
from service.dicomnet.scp import StorageSCP
from service.dicomnet.selection import Criteria
from service.ingest.pipeline import Pipeline
from service.storage import Store, utcnow
from tests import pacsdata
from tests.fakepacs import FakePacs
from tests.pacsdata import JANUARY, Study

OWNER = "pytest:1"


@pytest.fixture
def settings() -> Settings:
    return load_settings(overrides={"DOSELEDGER_PACS_TIMEOUT": "5"})


def add_node(store: Store, fake: FakePacs, **fields: Any) -> Node:
    node = Node("fake", fake.ae_title, "127.0.0.1", fake.port, **fields)
    store.add_pacs_node(node.as_document())
    return node


def run(
    pipeline: Pipeline, settings: Settings, node: Node, criteria: Criteria = JANUARY, **options: Any
) -> dict[str, Any]:
    record = new_run(pipeline.store, node, criteria, trigger="test", client="pytest", owner=OWNER)
    return Runner(pipeline, settings, record, owner=OWNER, **options).execute()


def statuses(store: Store, run_id: str) -> dict[str, str]:
    return {record["study_instance_uid"]: record["status"] for record in store.run_studies(run_id)}


def fetched(studies: dict[str, Study], *names: str) -> set[str]:
    return {uid for name in names for uid in studies[name].fetched}


def uids(identifier: Any) -> list[str]:
    """Return the SOP Instance UIDs a retrieve asked for (pydicom reads a list of one as a single value)."""
    value = identifier.get("SOPInstanceUID")
    return [] if value is None else [value] if isinstance(value, str) else list(value)


def arrived(store: Store) -> set[str]:
    """Return the SOP Instance UIDs that arrived: those with an outcome in the event log."""
    return {
        e["name"] for e in store.events_after(0, 1000) if e["type"] in ("created", "merged", "duplicate", "rejected")
    }


@pytest.mark.parametrize("retrieve", ["move", "get"])
def test_a_run_fetches_the_dose_objects_of_each_study_and_nothing_else(
    pipeline: Pipeline, store: Store, settings: Settings, fake: FakePacs, studies: dict[str, Study], retrieve: str
) -> None:
    node = add_node(store, fake, retrieve=retrieve)
    result = run(pipeline, settings, node)
    everything = fetched(studies, "CT", "DX", "MG", "NM", "SC")
    assert arrived(store) == everything
    assert result["status"] == "completed"
    assert result["counts"]["studies"] == {
        "found": 5, "pending": 0, "fetched": 5, "skipped": 0, "excluded": 0, "failed": 0, "cancelled": 0
    }  # fmt: skip
    assert result["counts"]["objects"] == {"requested": 6, "received": 6, "rejected": 1, "skipped": 0, "failed": 0}
    assert result["counts"]["series"] == 5
    assert sorted(store.db.studies.distinct("study_instance_uid")) == sorted(
        studies[n].uid for n in ("CT", "DX", "MG", "NM")
    )
    assert store.get_study(studies["DX"].uid)["summary"]["number_of_events"] == 2
    assert len(store.get_study(studies["NM"].uid)["radiopharmaceutical"]["administrations"]) == 1
    levels = sorted((str(i.QueryRetrieveLevel), len(uids(i))) for i in fake.retrieves(retrieve))
    assert levels == [("IMAGE", 1), ("SERIES", 0), ("SERIES", 0), ("SERIES", 0), ("SERIES", 0)]  # NM: one of three


@pytest.mark.parametrize("retrieve", ["move", "get"])
def test_the_event_log_names_the_node_and_the_run(
    pipeline: Pipeline, store: Store, settings: Settings, fake: FakePacs, retrieve: str
) -> None:
    result = run(pipeline, settings, add_node(store, fake, retrieve=retrieve))
    objects = [e for e in store.events_after(0, 1000) if e["type"] in ("received", "created", "merged", "rejected")]
    assert len(objects) == 12  # received + outcome for each of the six objects
    assert {(e["via"], e["client"]) for e in objects} == {("dicom", "FAKEPACS@127.0.0.1")}
    assert {repr(e["details"]["pacs"]) for e in objects} == {repr({"node": "fake", "run": result["_id"]})}
    (summary,) = [e for e in store.events_after(0, 1000) if e["type"] == "pacs-run"]
    assert summary["outcome"] == "completed" and summary["details"]["counts"] == result["counts"]


def test_a_second_run_fetches_nothing(
    pipeline: Pipeline, store: Store, settings: Settings, fake: FakePacs, studies: dict[str, Study]
) -> None:
    node = add_node(store, fake)
    run(pipeline, settings, node)
    moves, log = len(fake.retrieves("move")), len(store.events_after(0, 1000))
    second = run(pipeline, settings, node)
    assert len(fake.retrieves("move")) == moves
    assert len(store.events_after(0, 1000)) == log + 1  # its own summary only
    assert second["counts"]["studies"]["skipped"] == 5
    assert second["counts"]["objects"] == {"requested": 0, "received": 0, "rejected": 0, "skipped": 6, "failed": 0}
    assert set(statuses(store, second["_id"]).values()) == {"skipped"}
    (screen,) = store.run_studies(second["_id"], status="skipped")[4:5]
    assert screen["study_instance_uid"] == studies["SC"].uid  # refused by ingest once, not asked for again
    assert "holds every dose object the PACS lists (1)" in screen["message"]


def test_an_object_that_arrived_by_another_way_is_not_asked_for(
    pipeline: Pipeline, store: Store, settings: Settings, fake: FakePacs, studies: dict[str, Study]
) -> None:
    from tests.samples import to_bytes

    first, second = studies["DX"].datasets
    pipeline.ingest(to_bytes(first), name="dx-1.dcm", via="cli", client="test")
    result = run(pipeline, settings, add_node(store, fake))
    (dx,) = [r for r in store.run_studies(result["_id"]) if r["study_instance_uid"] == studies["DX"].uid]
    assert dx["objects"] == {"requested": 1, "received": 1, "rejected": 0, "skipped": 1, "failed": 0}
    (request,) = [i for i in fake.retrieves("move") if i.StudyInstanceUID == studies["DX"].uid]
    assert request.QueryRetrieveLevel == "IMAGE" and uids(request) == [second.SOPInstanceUID]


@pytest.mark.parametrize(
    ("filters", "excluded"),
    [
        ({"exclude_stations": ("dr",)}, {"DX"}),
        ({"stations": ("ct",)}, {"DX", "MG", "NM"}),  # CT1 and CTSCREEN stay
        ({"exclude_descriptions": ("CHEST",)}, {"CT", "DX"}),
        ({"descriptions": ("mammo", "bone")}, {"CT", "DX", "SC"}),
    ],
)
def test_station_and_description_filters_leave_studies_out(
    pipeline: Pipeline,
    store: Store,
    settings: Settings,
    fake: FakePacs,
    studies: dict[str, Study],
    filters: dict[str, tuple[str, ...]],
    excluded: set[str],
) -> None:
    result = run(pipeline, settings, add_node(store, fake), replace(JANUARY, **filters))
    kept = {"CT", "DX", "MG", "NM", "SC"} - excluded
    assert arrived(store) == fetched(studies, *kept)
    by_uid = statuses(store, result["_id"])
    assert {name for name in studies if by_uid.get(studies[name].uid) == "excluded"} == excluded
    assert result["status"] == "completed" and result["counts"]["studies"]["excluded"] == len(excluded)
    messages = [r["message"] for r in store.run_studies(result["_id"], status="excluded")]
    assert all(m.startswith("Not fetched: its ") for m in messages)


def test_modalities_select_studies_and_image_series(
    pipeline: Pipeline, store: Store, settings: Settings, fake: FakePacs, studies: dict[str, Study]
) -> None:
    result = run(pipeline, settings, add_node(store, fake), replace(JANUARY, modalities=("DX", "NM")))
    assert set(statuses(store, result["_id"])) == {studies["DX"].uid, studies["NM"].uid}
    assert arrived(store) == fetched(studies, "DX", "NM")


def test_a_refused_association_fails_the_run_saying_why(
    pipeline: Pipeline, store: Store, settings: Settings, studies: dict[str, Study]
) -> None:
    pacs = FakePacs(pacsdata.datasets(studies))
    pacs.start(callers=["SOMEONE_ELSE"])
    try:
        result = run(pipeline, settings, add_node(store, pacs))
    finally:
        pacs.stop()
    assert result["status"] == "failed"
    assert "rejected the association" in result["message"] and "'DOSELEDGER'" in result["message"]
    assert store.get_run(result["_id"])["status"] == "failed" and store.active_run("fake") is None


def test_a_failed_move_fails_its_study_only_and_the_next_run_fetches_it(
    pipeline: Pipeline, store: Store, settings: Settings, fake: FakePacs, studies: dict[str, Study]
) -> None:
    dx = studies["DX"].uid
    fake.failure = lambda identifier: 0xA702 if identifier.StudyInstanceUID == dx else None
    node = add_node(store, fake)
    first = run(pipeline, settings, node)
    assert first["status"] == "incomplete"
    assert first["counts"]["studies"]["failed"] == 1 and first["counts"]["studies"]["fetched"] == 4
    (failure,) = store.run_studies(first["_id"], status="failed")
    assert failure["study_instance_uid"] == dx
    assert "2 of 2 objects of series" in failure["message"] and "0xa702" in failure["message"]
    (logged,) = [e for e in store.events_after(0, 1000) if e["type"] == "pacs-retrieve"]
    assert logged["study_instance_uid"] == dx and logged["outcome"] == "failed"
    fake.failure = lambda identifier: None
    second = run(pipeline, settings, node)
    assert second["status"] == "completed" and second["counts"]["studies"]["fetched"] == 1
    assert arrived(store) == fetched(studies, "CT", "DX", "MG", "NM", "SC")


def test_a_move_that_sends_part_of_a_series_asks_for_the_rest_next_time(
    pipeline: Pipeline, store: Store, settings: Settings, fake: FakePacs, studies: dict[str, Study]
) -> None:
    _, second_image = studies["DX"].datasets
    fake.withheld = {second_image.SOPInstanceUID}
    node = add_node(store, fake)
    result = run(pipeline, settings, node)
    (failure,) = store.run_studies(result["_id"], status="failed")
    assert failure["objects"] == {"requested": 2, "received": 1, "rejected": 0, "skipped": 0, "failed": 1}
    assert "1 of 2 objects" in failure["message"]
    fake.withheld = set()
    run(pipeline, settings, node)
    last = fake.retrieves("move")[-1]
    assert last.QueryRetrieveLevel == "IMAGE" and uids(last) == [second_image.SOPInstanceUID]


def test_an_unknown_move_destination_fails_every_study(
    pipeline: Pipeline, store: Store, settings: Settings, fake: FakePacs
) -> None:
    result = run(pipeline, settings, add_node(store, fake, move_destination="NOBODY"))
    assert result["status"] == "incomplete" and result["counts"]["studies"]["failed"] == 5
    assert all("0xa801 (Refused: Move Destination unknown)" in r["message"] for r in store.run_studies(result["_id"]))


def test_a_study_the_pacs_does_not_answer_in_time_fails_alone(
    pipeline: Pipeline, store: Store, fake: FakePacs, studies: dict[str, Study]
) -> None:
    fake.slow_studies, fake.slow_seconds = {studies["CT"].uid}, 2.0
    settings = load_settings(overrides={"DOSELEDGER_PACS_TIMEOUT": "0.5"})
    result = run(pipeline, settings, add_node(store, fake))
    (failure,) = store.run_studies(result["_id"], status="failed")
    assert failure["study_instance_uid"] == studies["CT"].uid
    assert "stopped answering a SERIES-level C-FIND" in failure["message"]
    assert result["counts"]["studies"]["fetched"] == 4


def test_a_run_cancelled_between_studies_stops_and_says_so(
    pipeline: Pipeline, store: Store, settings: Settings, fake: FakePacs
) -> None:
    def cancel_after_first(record: Any, counts: dict[str, Any]) -> None:
        store.request_cancel(record_run[0], utcnow())

    record_run: list[str] = []
    node = add_node(store, fake)
    record = new_run(store, node, JANUARY, trigger="test", client="pytest", owner=OWNER)
    record_run.append(record["_id"])
    result = Runner(pipeline, settings, record, owner=OWNER, on_study=cancel_after_first).execute()
    assert result["status"] == "cancelled" and result["message"] == "Cancelled with 4 studies not yet fetched."
    assert Counter(statuses(store, record["_id"]).values()) == {"pending": 4, "fetched": 1}
    assert store.active_run("fake") is None


@pytest.mark.parametrize("retrieve", ["move", "get"])
def test_cancelling_a_retrieve_under_way_sends_c_cancel(
    pipeline: Pipeline, store: Store, settings: Settings, scp: StorageSCP, retrieve: str
) -> None:
    study = pacsdata.Study(generate_uid())
    pacsdata.dx_images(study, 6)
    pacs = FakePacs(study.datasets)
    pacs.destinations["DOSELEDGER"] = ("127.0.0.1", scp.port)
    pacs.pace = 0.4  # a slow PACS: the run sees the cancellation at a pending response and sends C-CANCEL
    pacs.start()
    try:
        node = add_node(store, pacs, retrieve=retrieve)
        record = new_run(store, node, JANUARY, trigger="test", client="pytest", owner=OWNER)
        done: list[dict[str, Any]] = []
        worker = threading.Thread(target=lambda: done.append(Runner(pipeline, settings, record, owner=OWNER).execute()))
        worker.start()
        deadline = time.monotonic() + 20
        while not pacs.retrieves(retrieve) and time.monotonic() < deadline:
            time.sleep(0.02)
        store.request_cancel(record["_id"], utcnow())
        worker.join(30)
    finally:
        pacs.stop()
    assert pacs.cancelled.is_set()
    (result,) = done
    assert result["status"] == "cancelled"
    (stopped,) = store.run_studies(record["_id"], status="cancelled")
    received = stopped["objects"]["received"]
    assert 1 <= received < 6 and stopped["message"] == f"Cancelled: {received} of 6 objects arrived."
