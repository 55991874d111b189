"""A crash between the writes of an import, and ``doseledger check`` finding and repairing what it left.

The crash is a :class:`Crash` (a ``BaseException``, which the pipeline does not
catch, as a killed process catches nothing) raised from one store step of the
pipeline; the journal entry it leaves is then made to look like a dead
process's (its writer's process id is one that has ended), as after kill -9.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from service.ingest.pipeline import Pipeline
from service.modalities import MODALITIES
from service.storage import Store
from service.storage.journal import WRITER
from tests.conftest import Runner
from tests.samples import ct_report_bytes


class Crash(BaseException):
    """The process dies here."""


def crash_at(monkeypatch: pytest.MonkeyPatch, store: Store, step: str, *, after: bool = False) -> None:
    """Make the next call of ``store.<step>`` crash (before doing anything, or ``after`` it did its work)."""
    real: Callable[..., Any] = getattr(store, step)

    def dying(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(store, step, real)
        if after:
            real(*args, **kwargs)
        raise Crash

    monkeypatch.setattr(store, step, dying)


def dead_writer() -> str:
    """Return the journal's name of a process of this machine that has ended."""
    ended = subprocess.Popen(["true"])
    ended.wait()
    host = WRITER.split(":")[0]
    return f"{host}:{ended.pid}:00000000"


def crashed_import(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, step: str, *, after: bool = False) -> str:
    """Import two CT reports, then a third that crashes at ``step``; return the third's SHA-256."""
    for _ in range(2):
        pipeline.ingest(ct_report_bytes(), name="fine.dcm", via="cli", client="test")
    crash_at(monkeypatch, pipeline.store, step, after=after)
    data = ct_report_bytes()
    with pytest.raises(Crash):
        pipeline.ingest(data, name="crashed.dcm", via="cli", client="test")
    pipeline.store.db.journal.update_many({}, {"$set": {"writer": dead_writer()}})
    return pipeline.store.db.originals.files.find_one({"filename": "crashed.dcm"})["_id"]


def tally(store: Store) -> int:
    return sum(t["count"] for t in store.tallies() if t["modality"] == "CT")


def studies(store: Store) -> int:
    return store.db.studies.count_documents({"modalities": MODALITIES["CT"].stored})


def logged(store: Store, sha: str) -> list[tuple[str, Any]]:
    return [(e["type"], e.get("details")) for e in store.events_after(0, 1000) if e.get("sha256") == sha]


def test_a_crash_between_the_study_and_its_tallies_is_found_and_repaired(
    pipeline: Pipeline, store: Store, runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    sha = crashed_import(pipeline, monkeypatch, "move_tallies")
    assert (studies(store), tally(store), logged(store, sha)) == (3, 2, [])  # the tally is short, the log silent
    seen = runner.invoke(["check", "--no-repair"])
    assert seen.exit_code == 1 and "1 interrupted writes; not finished" in seen.stdout
    assert (tally(store), logged(store, sha)) == (2, [])  # --no-repair changed nothing
    done = runner.invoke(["check"])
    assert done.exit_code == 0, done.stdout
    assert "1 interrupted writes; finished" in done.stdout and "crashed.dcm" in done.stdout
    recovered = {"recovered": "after an interrupted write"}
    assert (tally(store), logged(store, sha)) == (3, [("received", recovered), ("created", recovered)])
    assert store.db.journal.count_documents({}) == 0
    again = runner.invoke(["check"])
    assert again.exit_code == 0 and "Everything is consistent" in again.stdout
    [*_, last] = store.events_after(0, 1000)
    assert (last["type"], last["outcome"]) == ("check", "consistent")


def test_a_crash_before_the_study_was_written_takes_the_object_in_again(
    pipeline: Pipeline, store: Store, runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    sha = crashed_import(pipeline, monkeypatch, "note_writes", after=True)
    assert (studies(store), tally(store), logged(store, sha)) == (2, 2, [])  # only the original is kept
    done = runner.invoke(["check"])
    assert done.exit_code == 0 and "taken in again" in done.stdout, done.stdout
    assert (studies(store), tally(store)) == (3, 3)
    assert [kind for kind, _ in logged(store, sha)] == ["received", "created"]


def test_a_crash_before_the_event_log_is_repaired_at_the_next_import(
    pipeline: Pipeline, store: Store, runner: Runner, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    sha = crashed_import(pipeline, monkeypatch, "append_events")
    assert (studies(store), tally(store), logged(store, sha)) == (3, 3, [])
    (tmp_path / "next.dcm").write_bytes(ct_report_bytes())
    done = runner.invoke(["import", tmp_path / "next.dcm"])
    assert done.exit_code == 0 and "finished an interrupted write: crashed.dcm" in done.stderr
    assert [kind for kind, _ in logged(store, sha)] == ["received", "created"]
    assert tally(store) == 4 and store.db.journal.count_documents({}) == 0


def test_check_repairs_tallies_and_the_log_and_reports_lost_originals(
    pipeline: Pipeline, store: Store, runner: Runner
) -> None:
    for _ in range(3):
        pipeline.ingest(ct_report_bytes(), name="fine.dcm", via="cli", client="test")
    [first, second, third] = [doc["reports"][0]["sha256"] for doc in store.db.studies.find()]
    store.db.tallies.update_one({"modality": "CT"}, {"$inc": {"count": 5}})
    store.db.event_log.delete_one({"sha256": first, "type": "created"})  # only a test ever deletes one
    store.delete_originals([second])
    done = runner.invoke(["check"])
    assert done.exit_code == 1
    assert "1 tallies differ from the studies; repaired" in done.stdout
    assert "the tally says 8 studies, the studies are 3" in done.stdout
    assert "1 stored reports have no created/merged event-log entry; repaired" in done.stdout
    assert f"original {second} is not kept" in done.stdout and "cannot be repaired" in done.stdout
    assert tally(store) == 3 and [kind for kind, _ in logged(store, first)] == ["received", "created"]
    assert logged(store, third) == [("received", None), ("created", None)]  # untouched
    [*_, last] = store.events_after(0, 1000)
    assert (last["type"], last["outcome"], last["details"]["lost"]) == ("check", "problems", 1)


def test_demonstration_studies_are_consistent(store: Store, runner: Runner) -> None:
    """`doseledger demo` logs each study rather than each report, and keeps no originals: nothing to repair."""
    from service.demo import add_demo

    add_demo(store, now=datetime(2026, 3, 1), client="test")
    done = runner.invoke(["check"])
    assert done.exit_code == 0 and "Everything is consistent" in done.stdout, done.stdout


def test_a_write_in_flight_is_left_to_its_writer(pipeline: Pipeline, store: Store, runner: Runner) -> None:
    pipeline.ingest(ct_report_bytes(), name="fine.dcm", via="cli", client="test")
    [doc] = store.db.studies.find()
    sha = doc["reports"][0]["sha256"]
    store.db.event_log.delete_many({"sha256": sha})  # as if its entries were not written yet...
    store.note_writes([{"_id": "x", "name": "slow.dcm", "sha256": sha, "study_instance_uid": doc["study_instance_uid"],
                       "tallies": [["CT", "CT1"]]}])  # ...by a write of this process, going on  # fmt: skip
    assert [entry["_id"] for entry in store.writes_in_flight()] == ["x"] and store.interrupted_writes() == []
    store.db.tallies.update_one({"modality": "CT"}, {"$inc": {"count": 1}})
    done = runner.invoke(["check"])
    assert done.exit_code == 1 and "slow.dcm" not in done.stdout and "is being written" in done.stdout
    assert "tally CT CT1 is being moved" in done.stdout and tally(store) == 2  # left alone
    store.db.journal.update_one({"_id": "x"}, {"$set": {"at": datetime(2020, 1, 1)}})  # long gone: interrupted
    assert [entry["_id"] for entry in store.interrupted_writes()] == ["x"]
