"""Runs that outlive their process (resume without fetching twice), the nightly run, and the run and move records."""

from __future__ import annotations

import time as clock
from collections import Counter
from datetime import datetime, time, timedelta
from typing import Any

import pytest

from service.config import Settings, load_settings
from service.dicomnet.nodes import Node
from service.dicomnet.runs import Runner, new_run
from service.dicomnet.schedule import Background, Scheduler, resume_abandoned
from service.dicomnet.scp import StorageSCP
from service.errors import Conflict
from service.ingest.pipeline import Pipeline
from service.storage import Store, utcnow
from tests import pacsdata
from tests.fakepacs import FakePacs
from tests.pacsdata import JANUARY, Study

OWNER = "pytest:1"


class Crash(BaseException):
    """The process dies (nothing of the run's own handling runs)."""


@pytest.fixture
def node(store: Store, fake: FakePacs) -> Node:
    node = Node("fake", fake.ae_title, "127.0.0.1", fake.port)
    store.add_pacs_node(node.as_document())
    return node


@pytest.fixture
def settings() -> Settings:
    return load_settings(overrides={"DOSELEDGER_PACS_TIMEOUT": "5"})


def expire(store: Store, run_id: str) -> None:
    """Let a run's lease run out, as when its process died a minute ago."""
    store.db.pacs_runs.update_one({"_id": run_id}, {"$set": {"lease_until": utcnow() - timedelta(seconds=1)}})


def moves_per_study(fake: FakePacs) -> Counter[str]:
    return Counter(str(identifier.StudyInstanceUID) for identifier in fake.retrieves("move"))


def test_a_run_whose_process_died_resumes_without_fetching_twice(
    pipeline: Pipeline, store: Store, settings: Settings, fake: FakePacs, node: Node, studies: dict[str, Study]
) -> None:
    def die_after_two(record: Any, counts: dict[str, Any]) -> None:
        if counts["studies"]["pending"] == 3:
            raise Crash

    record = new_run(store, node, JANUARY, trigger="test", client="pytest", owner=OWNER)
    with pytest.raises(Crash):
        Runner(pipeline, settings, record, owner=OWNER, on_study=die_after_two).execute()
    assert store.get_run(record["_id"])["status"] == "running"
    assert resume_abandoned(pipeline, settings, Background()) == []  # its lease still holds
    expire(store, record["_id"])
    background = Background()
    assert resume_abandoned(pipeline, settings, background) == [record["_id"]]
    background.wait()
    result = store.get_run(record["_id"])
    assert result["status"] == "completed" and "owner" not in result  # ended: nobody holds it
    assert result["counts"]["studies"]["fetched"] == 5 and result["counts"]["objects"]["received"] == 6
    assert set(moves_per_study(fake).values()) == {1}  # every series moved once, before and after the restart
    assert store.active_run("fake") is None


def test_an_interrupted_run_gives_up_its_lease_and_goes_on_from_the_study_it_was_in(
    pipeline: Pipeline, store: Store, settings: Settings, scp: StorageSCP
) -> None:
    study = pacsdata.Study("1.2.826.0.1.3680043.8.498.1")
    pacsdata.dx_images(study, 5)
    pacs = FakePacs(study.datasets)
    pacs.destinations["DOSELEDGER"] = ("127.0.0.1", scp.port)
    pacs.pace = 0.3
    pacs.start()
    try:
        node = Node("slow", pacs.ae_title, "127.0.0.1", pacs.port)
        store.add_pacs_node(node.as_document())
        background = Background()
        record = new_run(store, node, JANUARY, trigger="test", client="pytest", owner=OWNER)
        background.start(Runner(pipeline, settings, record, owner=OWNER))
        deadline = clock.monotonic() + 20
        while store.db.event_log.count_documents({"type": "created"}) == 0 and clock.monotonic() < deadline:
            clock.sleep(0.02)
        background.stop()  # the process shuts down
        left = store.get_run(record["_id"])
        assert left["status"] == "running" and left["lease_until"] <= utcnow()
        assert store.run_studies(record["_id"])[0]["status"] == "pending"
        resumed = Background()
        assert resume_abandoned(pipeline, settings, resumed) == [record["_id"]]
        resumed.wait()
    finally:
        pacs.stop()
    result = store.get_run(record["_id"])
    assert result["status"] == "completed" and result["counts"]["objects"]["received"] < 5  # the rest was held
    _, second = pacs.retrieves("move")
    assert second.QueryRetrieveLevel == "IMAGE"  # only what had not arrived
    outcomes = Counter(e["type"] for e in store.events_after(0, 1000))
    assert outcomes["received"] == 5 and outcomes["created"] + outcomes["merged"] == 5


def test_the_nightly_run_starts_once_a_night_after_its_time(
    pipeline: Pipeline, store: Store, fake: FakePacs, node: Node, studies: dict[str, Study]
) -> None:
    settings = load_settings(
        {},
        {
            "DOSELEDGER_PACS_NIGHTLY_NODE": "fake",
            "DOSELEDGER_PACS_NIGHTLY_DAYS": "7",
            "DOSELEDGER_PACS_NIGHTLY_AT": "02:00",
        },
    )
    now = [datetime(2024, 1, 8, 1, 59)]
    background = Background()
    scheduler = Scheduler(pipeline, settings, background=background, clock=lambda: now[0])
    assert scheduler.tick() == []
    now[0] = datetime(2024, 1, 8, 2, 0)
    (first,) = scheduler.tick()
    background.wait()
    run = store.get_run(first)
    assert run["trigger"] == "schedule" and run["schedule_key"] == "nightly:fake:2024-01-08"
    assert (run["criteria"]["date_from"], run["criteria"]["date_to"]) == ("2024-01-01", "2024-01-08")
    assert run["status"] == "completed" and run["counts"]["studies"]["fetched"] == 5
    now[0] = datetime(2024, 1, 8, 23, 0)
    assert scheduler.tick() == []  # once a night
    now[0] = datetime(2024, 1, 9, 2, 1)
    (second,) = scheduler.tick()
    background.wait()
    assert store.get_run(second)["counts"]["studies"]["skipped"] == 5
    assert settings.pacs_nightly_at == time(2, 0)


def test_no_nightly_run_without_a_node(pipeline: Pipeline, settings: Settings) -> None:
    scheduler = Scheduler(pipeline, settings, background=Background(), clock=lambda: datetime(2024, 1, 8, 12))
    assert scheduler.tick() == []


def test_one_run_at_a_time_per_node_and_only_an_expired_lease_is_taken_over(store: Store, node: Node) -> None:
    record = new_run(store, node, JANUARY, trigger="test", client="pytest", owner=OWNER)
    with pytest.raises(Conflict, match=f"PACS node 'fake' has run {record['_id']} \\(queued\\) under way"):
        new_run(store, node, JANUARY, trigger="test", client="pytest", owner="other:2")
    now = utcnow()
    assert store.claim_run(record["_id"], "other:2", now, now + timedelta(minutes=1)) is None
    assert not store.update_run(record["_id"], "other:2", {"status": "running"})
    expire(store, record["_id"])
    claimed = store.claim_run(record["_id"], "other:2", utcnow(), utcnow() + timedelta(minutes=1))
    assert claimed is not None and claimed["owner"] == "other:2"
    assert not store.renew_lease(record["_id"], OWNER, utcnow())  # the first owner lost it


def test_cancelling_a_run_nobody_runs_ends_it_at_once(store: Store, node: Node) -> None:
    record = new_run(store, node, JANUARY, trigger="test", client="pytest", owner=OWNER)
    assert store.request_cancel(record["_id"], utcnow())["cancel_requested"] is True  # its owner will stop it
    expire(store, record["_id"])
    cancelled = store.request_cancel(record["_id"], utcnow())
    assert cancelled["status"] == "cancelled" and "active_node" not in cancelled
    with pytest.raises(Conflict, match="is not under way: it ended cancelled"):
        store.request_cancel(record["_id"], utcnow())
    new_run(store, node, JANUARY, trigger="test", client="pytest", owner=OWNER)  # the node is free again


def test_moves_are_found_by_originator_or_by_the_node_that_sends_them(store: Store) -> None:
    ids = {
        store.start_move(calling_ae_title="DOSELEDGER", node_ae_title="PACS", run="r", node="n", study=str(n))
        for n in range(20)
    }
    assert len(ids) == 20 and all(1 <= i <= 0xFFFF for i in ids)
    move = min(ids)
    assert store.find_move("DOSELEDGER", move, "ANYONE")["study"] is not None
    assert store.find_move("PACS", move, "PACS") is not None  # a PACS naming itself the originator
    assert store.find_move("SOMEONE", move, "ELSE") is None
    store.record_move_arrival(move, "1.2.3", "created", None)
    store.record_move_arrival(move, "1.2.4", "rejected", "not-a-dose-object")
    assert store.finish_move(move) == [
        {"sop_instance_uid": "1.2.3", "outcome": "created", "code": None},
        {"sop_instance_uid": "1.2.4", "outcome": "rejected", "code": "not-a-dose-object"},
    ]
    assert store.find_move("DOSELEDGER", move, "PACS") is None and store.finish_move(move) == []


def test_known_objects_are_those_in_reports_and_those_refused_before(store: Store, pipeline: Pipeline) -> None:
    from tests.samples import ct_report, to_bytes

    report = ct_report()
    pipeline.ingest(to_bytes(report), name="r.dcm", via="cli", client="test")
    study = str(report.StudyInstanceUID)
    store.add_run_studies([{"run": "old", "study_instance_uid": study, "position": 0, "rejected_uids": ["refused"]}])
    asked = [str(report.SOPInstanceUID), "refused", "new"]
    assert store.known_sop_instance_uids(study, asked) == {str(report.SOPInstanceUID), "refused"}
    assert store.known_sop_instance_uids("another.study", asked) == set()
