"""``doseledger pacs``: nodes, and fetch runs in the foreground against a PACS built in the test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scripts.cli_common import client
from service.dicomnet.nodes import Node
from service.dicomnet.runs import new_run
from service.storage import Store
from service.storage.embedded import free_port
from tests import pacsdata
from tests.conftest import Runner
from tests.fakepacs import FakePacs
from tests.pacsdata import JANUARY, Study


@pytest.fixture
def scp_port() -> int:
    """The port of the SCP that ``doseledger pacs fetch`` starts for a C-MOVE (none listens there)."""
    return free_port()


@pytest.fixture
def fake(studies: dict[str, Study], scp_port: int) -> Iterator[FakePacs]:
    pacs = FakePacs(pacsdata.datasets(studies))
    pacs.destinations["DOSELEDGER"] = ("127.0.0.1", scp_port)
    pacs.start()
    yield pacs
    pacs.stop()


@pytest.fixture
def pacs(runner: Runner, fake: FakePacs, scp_port: int) -> Runner:
    """A runner whose SCP settings match the fake's move destination, with the fake added as ``fake``."""
    runner.environment.update({"DOSELEDGER_SCP_PORT": str(scp_port), "DOSELEDGER_SCP_HOST": "127.0.0.1"})
    added = runner.invoke(
        ["pacs", "add", "fake", "--ae-title", "FAKEPACS", "--host", "127.0.0.1", "--port", str(fake.port)]
    )
    assert added.exit_code == 0, added.stderr
    assert added.stdout == f"Added PACS node fake (FAKEPACS@127.0.0.1:{fake.port}), retrieving by C-MOVE.\n"
    return runner


def fetch(runner: Runner, *options: str) -> tuple[int, list[str]]:
    result = runner.invoke(["pacs", "fetch", "fake", "--from", "2024-01-01", "--to", "2024-01-31", *options])
    return result.exit_code, result.stdout.splitlines()


def test_nodes_are_added_listed_echoed_and_deleted(runner: Runner, fake: FakePacs) -> None:
    assert runner.invoke(["pacs", "list"]).stdout == "There are no PACS nodes; add one with `doseledger pacs add`.\n"
    runner.invoke(
        [
            "pacs",
            "add",
            "fake",
            "--ae-title",
            "FAKEPACS",
            "--host",
            "127.0.0.1",
            "--port",
            str(fake.port),
            "--retrieve",
            "get",
        ]
    )
    again = runner.invoke(["pacs", "add", "fake", "--ae-title", "X", "--host", "h", "--port", "1"])
    assert again.exit_code == 2 and "A PACS node named 'fake' exists already" in again.stderr
    assert runner.invoke(["pacs", "list"]).stdout == f"fake\tFAKEPACS@127.0.0.1:{fake.port}\tC-GET\n"
    echo = runner.invoke(["pacs", "echo", "fake"])
    assert echo.exit_code == 0 and echo.stdout.startswith(
        f"fake (FAKEPACS@127.0.0.1:{fake.port}) answered the C-ECHO in "
    )
    runner.invoke(["pacs", "add", "gone", "--ae-title", "GONE", "--host", "127.0.0.1", "--port", str(free_port())])
    unreachable = runner.invoke(["pacs", "echo", "gone"])
    assert unreachable.exit_code == 1 and "could not be reached" in unreachable.stderr
    assert runner.invoke(["pacs", "delete", "gone"]).stdout == "Deleted PACS node gone; its runs stay listed.\n"
    missing = runner.invoke(["pacs", "delete", "gone"])
    assert missing.exit_code == 2 and "There is no PACS node named 'gone' (nodes: fake)" in missing.stderr


def test_a_bad_node_or_bad_dates_are_refused_naming_them(pacs: Runner) -> None:
    bad = pacs.invoke(["pacs", "add", "x", "--ae-title", "A" * 17, "--host", "h", "--port", "0"])
    assert (
        bad.exit_code == 2
        and "ae_title: Expected an AE title" in bad.stderr
        and "port: Expected 1 to 65535" in bad.stderr
    )
    code, _ = fetch(pacs, "--modality", "MR")
    reversed_dates = pacs.invoke(["pacs", "fetch", "fake", "--from", "2024-02-01", "--to", "2024-01-01"])
    assert (
        code == 2
        and reversed_dates.exit_code == 2
        and "date_to: Expected a date on or after date_from" in reversed_dates.stderr
    )


def test_fetch_starts_an_scp_for_the_move_and_a_second_fetch_finds_nothing_to_do(
    pacs: Runner, store: Store, studies: dict[str, Study]
) -> None:
    code, lines = fetch(pacs)
    assert code == 0
    assert lines[0].endswith("completed. 5 studies: 5 fetched, 0 skipped, 0 excluded, 0 failed.")
    assert (
        lines[1] == "Objects: 6 requested, 6 received (1 refused by ingest and kept), 0 already held, 0 did not arrive."
    )
    assert store.db.studies.count_documents({}) == 4
    code, lines = fetch(pacs)
    assert code == 0 and lines[0].endswith("completed. 5 studies: 0 fetched, 5 skipped, 0 excluded, 0 failed.")
    runs = pacs.invoke(["pacs", "runs", "fake"]).stdout.splitlines()
    assert len(runs) == 2 and all("\tcompleted\t2024-01-01..2024-01-31\t5 studies" in row for row in runs)


def test_fetch_filters_and_modalities(pacs: Runner, store: Store, studies: dict[str, Study]) -> None:
    code, lines = fetch(pacs, "--modality", "dx", "--modality", "CT", "--exclude-station", "dr")
    assert code == 0 and lines[0].endswith("3 studies: 2 fetched, 0 skipped, 1 excluded, 0 failed.")  # CT, DX and SC
    assert sorted(store.db.studies.distinct("study_instance_uid")) == [studies["CT"].uid]


def test_a_failed_study_makes_fetch_exit_1_and_names_it(
    pacs: Runner, fake: FakePacs, studies: dict[str, Study]
) -> None:
    fake.failure = lambda identifier: 0xA702 if identifier.StudyInstanceUID == studies["NM"].uid else None
    code, lines = fetch(pacs)
    assert code == 1 and lines[0].endswith(
        "incomplete. 5 studies: 4 fetched, 0 skipped, 0 excluded, 1 failed. The next run retries the failed ones."
    )
    assert lines[2].startswith(f"failed: {studies['NM'].uid}: 1 of 1 object of series ")
    fake.failure = lambda identifier: None
    code, lines = fetch(pacs)
    assert code == 0 and lines[0].endswith("5 studies: 1 fetched, 4 skipped, 0 excluded, 0 failed.")


def test_runs_can_be_cancelled_and_a_stopped_run_resumed(pacs: Runner, store: Store, fake: FakePacs) -> None:
    assert (
        pacs.invoke(["pacs", "runs"]).stdout
        == "There are no query/retrieve runs yet; start one with `doseledger pacs fetch`.\n"
    )
    node = Node.from_document(store.pacs_node("fake"))
    run = new_run(store, node, JANUARY, trigger="test", client="pytest", owner="gone:1")
    busy = pacs.invoke(["pacs", "fetch", "fake", "--from", "2024-01-01", "--to", "2024-01-02"])
    assert busy.exit_code == 2 and f"has run {run['_id']} (queued) under way" in busy.stderr
    held = pacs.invoke(["pacs", "resume", run["_id"]])
    assert held.exit_code == 2 and "process gone:1 is running it" in held.stderr
    store.db.pacs_runs.update_one({"_id": run["_id"]}, {"$set": {"lease_until": run["created_at"]}})  # its process died
    resumed = pacs.invoke(["pacs", "resume", run["_id"]])
    assert resumed.exit_code == 0 and "completed. 5 studies: 5 fetched" in resumed.stdout
    cancel = pacs.invoke(["pacs", "cancel", run["_id"]])
    assert cancel.exit_code == 2 and "it ended completed" in cancel.stderr
    other = new_run(store, node, JANUARY, trigger="test", client="pytest", owner="gone:1")
    store.db.pacs_runs.update_one({"_id": other["_id"]}, {"$set": {"lease_until": other["created_at"]}})
    assert (
        pacs.invoke(["pacs", "cancel", other["_id"]]).stdout
        == f"Cancelled run {other['_id']} (no process was running it).\n"
    )


def test_the_changes_are_logged_under_the_os_user(pacs: Runner, store: Store) -> None:
    code, _ = fetch(pacs, "--modality", "CT")
    assert code == 0
    run = store.runs("fake")[0]
    other = new_run(
        store, Node.from_document(store.pacs_node("fake")), JANUARY, trigger="test", client="t", owner="x:1"
    )
    assert pacs.invoke(["pacs", "cancel", other["_id"]]).exit_code == 0
    store.finish_run(other["_id"], "x:1", {"status": "cancelled", "finished_at": other["created_at"]})  # it stopped
    assert pacs.invoke(["pacs", "delete", "fake"]).exit_code == 0
    logged = [(e["type"], e["outcome"], e["details"]["pacs"]) for e in store.events_after(0, 1000)
              if e["type"].startswith("pacs-") and e["type"] not in ("pacs-run", "pacs-retrieve")]  # fmt: skip
    assert logged == [
        ("pacs-node-added", "done", {"node": "fake"}),
        ("pacs-run-started", "queued", {"node": "fake", "run": run["_id"]}),
        ("pacs-run-cancelled", "requested", {"node": "fake", "run": other["_id"]}),
        ("pacs-node-deleted", "done", {"node": "fake"}),
    ]
    mine = [e for e in store.events_after(0, 1000) if e["type"] in {t for t, _, _ in logged}]
    assert {(e["via"], e["client"]) for e in mine} == {("cli", client())}
    assert "started by " + client() in next(e for e in mine if e["type"] == "pacs-run-started")["message"]
