"""Every query the service sends to ``studies`` fixes the shard key, or is a listed scatter-gather query.

pymongo's command monitoring records what the service sends during a
representative run (imports, lists, pages, exports, audits, patient sizes, the
event log, reprocess, migrate, demo and its removal, purge, a deletion, what a
PACS run asks of a study, the tallies counted again),
and each command on ``studies`` is checked against
:mod:`service.storage.sharding`: a filter that fixes ``study_instance_uid``
(equality or ``$in``) reaches one shard of a cluster sharded on it (hashed);
anything else must name itself (``comment``) as one of the listed scatter-gather
queries, which the README's Scale-out section lists as well.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymongo.monitoring
import pytest
from flask.testing import FlaskClient

from service.storage import Store
from service.storage.sharding import SCATTER_GATHER, SHARD_KEYS, TARGETED
from tests.arrivals import corpus_files
from tests.conftest import ROOT, Runner

KEY = "study_instance_uid"
#: commands that read or write documents (getMore and killCursors continue a find or aggregate)
DATA_COMMANDS = {"find", "aggregate", "count", "distinct", "insert", "update", "delete", "findAndModify"}
#: the comment of this test's own commands, which are not the service's
OURS = "test.setup"


@dataclass(frozen=True)
class Sent:
    """One command on ``studies``: its name, comment and the filters it carries."""

    name: str
    comment: str | None
    filters: tuple[Any, ...]
    inserted: tuple[dict[str, Any], ...] = ()


class Recorder(pymongo.monitoring.CommandListener):
    """Keep the commands on ``studies`` of one database while armed."""

    def __init__(self) -> None:
        self.database: str | None = None
        self.sent: list[Sent] = []

    def started(self, event: pymongo.monitoring.CommandStartedEvent) -> None:
        command = event.command
        if event.database_name != self.database or event.command_name not in DATA_COMMANDS:
            return
        if command.get(event.command_name) != "studies":
            return
        self.sent.append(
            Sent(event.command_name, command.get("comment"), filters_of(command), tuple(command.get("documents", ())))
        )

    def succeeded(self, event: pymongo.monitoring.CommandSucceededEvent) -> None:
        """Nothing to do: the command was recorded when it started."""

    def failed(self, event: pymongo.monitoring.CommandFailedEvent) -> None:
        """Nothing to do: the command was recorded when it started."""


def filters_of(command: dict[str, Any]) -> tuple[Any, ...]:
    """Return the filters a command selects documents with."""
    if "filter" in command or "query" in command:
        return (command.get("filter", command.get("query")) or {},)
    if "updates" in command:
        return tuple(update["q"] for update in command["updates"])
    if "deletes" in command:
        return tuple(delete["q"] for delete in command["deletes"])
    if "pipeline" in command:
        first = command["pipeline"][0] if command["pipeline"] else {}
        return (first.get("$match", {}),)
    return ({},)


def fixes_the_key(filter: Any) -> bool:
    """Tell whether a filter fixes ``study_instance_uid`` (equality or ``$in``), so one shard holds its matches."""
    if not isinstance(filter, dict):
        return False
    value = filter.get(KEY)
    if isinstance(value, str) or (isinstance(value, dict) and isinstance(value.get("$eq"), str)):
        return True
    if isinstance(value, dict) and isinstance(value.get("$in"), list) and value["$in"]:
        return all(isinstance(item, str) for item in value["$in"])
    return any(fixes_the_key(part) for part in filter.get("$and", ()))


def targeted(sent: Sent) -> bool:
    """Tell whether a command reaches only the shards holding its studies."""
    if sent.name == "insert":
        return all(KEY in document for document in sent.inserted)
    return all(fixes_the_key(filter) for filter in sent.filters)


_RECORDER = Recorder()


@pytest.fixture(scope="module", autouse=True)
def _listening() -> None:
    """Register the recorder before this module's clients are made (pymongo reads listeners then).

    A registration lasts for the process; the recorder keeps nothing unless a
    test arms it with its database's name.
    """
    if _RECORDER not in pymongo.monitoring._LISTENERS.command_listeners:
        pymongo.monitoring.register(_RECORDER)


@pytest.fixture
def recorder(db_name: str) -> Iterator[Recorder]:
    _RECORDER.database, _RECORDER.sent = db_name, []
    yield _RECORDER
    _RECORDER.database, _RECORDER.sent = None, []


def representative_run(client: FlaskClient, runner: Runner, store: Store, corpus: Path) -> None:
    """Use the service as a hospital does."""
    for path in corpus_files(corpus)[:12]:
        headers = {"Content-Type": "application/dicom", "X-Filename": path.name}
        answer = client.post("/api/imports", data=path.read_bytes(), headers=headers)
        assert answer.status_code in (200, 201, 400, 422), answer.get_json()
    first = client.get("/api/studies", query_string={"page_size": 2}).get_json()
    assert client.get("/api/studies", query_string={"page_size": 2, "after": first["next"]}).status_code == 200
    for query in (
        {"modality": "CT", "station_name": "a", "date_from": "2010-01-01", "dose_min": "1"},
        {"modality": "CT", "order": "-total_dose"},
        {"age_min": "10", "test_patients": "exclude"},
    ):
        assert client.get("/api/studies", query_string=query).status_code == 200
    uid = first["items"][0]["study_instance_uid"]
    for url in (f"/api/studies/{uid}", f"/studies/{uid}", "/ct", "/", "/api/event-log"):
        assert client.get(url).status_code == 200, url
    for url in (
        "/api/exports/CT.csv",
        "/api/exports/CT.xlsx",
        "/api/audits/ct_dlp_by_protocol",
        "/api/audits/workload",
    ):
        assert client.get(url).status_code == 200, url
    sizes = {"id_column": "Acc num", "height_column": "height", "weight_column": "weight"}
    csv = (corpus / "pt_size_import.csv").read_bytes()
    assert client.post("/api/patient-sizes", data={**sizes, "file": (io.BytesIO(csv), "sizes.csv")}).status_code == 200
    by_uid = f"uid,height,weight\n{uid},170,70\n".encode()
    form = {"id_column": "uid", "height_column": "height", "weight_column": "weight", "si_uid": "true"}
    assert client.post("/api/patient-sizes", data={**form, "file": (io.BytesIO(by_uid), "uids.csv")}).status_code == 200
    assert store.known_sop_instance_uids(uid, ["1.2.3.4"]) == set()  # what a PACS run asks before retrieving
    store.db.studies.update_one({KEY: uid}, {"$unset": {"schema_version": ""}}, comment=OURS)
    for command in (
        ["reprocess"],
        ["migrate"],
        ["demo"],
        ["demo", "--remove"],
        ["purge", "--before", "2000-01-01", "--dry-run"],
        ["alerts", "evaluate", "--from", "2010-01-01"],
    ):
        assert runner.invoke(command).exit_code == 0, command
    assert runner.invoke(["purge", "--before", "2000-01-01"]).exit_code == 0
    assert client.delete(f"/api/studies/{uid}", json={"reason": "a test of the shard keys"}).status_code == 200
    store.rebuild_tallies()


def test_every_query_on_studies_fixes_the_shard_key_or_is_listed(
    client: FlaskClient, runner: Runner, store: Store, corpus: Path, recorder: Recorder
) -> None:
    representative_run(client, runner, store, corpus)
    sent = [s for s in recorder.sent if s.comment != OURS]
    assert len(sent) > 100
    unnamed = sorted({s.name for s in sent if s.comment is None})
    assert unnamed == [], "name these queries on studies with a comment (service.storage.sharding)"
    unknown = sorted({s.comment for s in sent} - set(TARGETED) - set(SCATTER_GATHER))  # type: ignore[arg-type]
    assert unknown == [], "list these queries in service.storage.sharding"
    scattered = {s.comment for s in sent if not targeted(s)}
    assert scattered - set(SCATTER_GATHER) == set(), "these claim to be targeted but miss the shard key"
    assert scattered == set(SCATTER_GATHER), "the run should exercise every listed scatter-gather query"
    assert set(TARGETED) <= {s.comment for s in sent if targeted(s)}  # by-field is too, by Study Instance UID


def test_the_key_is_recognised() -> None:
    assert fixes_the_key({KEY: "1.2.3", "revision": 4}) and fixes_the_key({KEY: {"$in": ["1", "2"]}})
    assert fixes_the_key({"$and": [{KEY: {"$eq": "1.2"}}, {"modalities": "CT"}]})
    assert not fixes_the_key({KEY: {"$gt": "1.2"}}) and not fixes_the_key({KEY: {"$regex": "^1\\.2\\."}})
    assert not fixes_the_key({"_id": "x", "revision": 1}) and not fixes_the_key({"modalities": "CT"})


def test_the_readme_lists_the_shard_keys_and_the_scatter_gather_queries() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Scale-out")
    section = readme[start : readme.index("\n## ", start + 1)]
    listed = set(re.findall(r"^\| `(studies\.[a-z-]+)` \|", section, re.M))
    assert listed == set(SCATTER_GATHER) | set(TARGETED)
    for collection, key in SHARD_KEYS.items():
        assert f'sh.shardCollection("doseledger.{collection}", {_js(key)})' in section


def _js(key: dict[str, int | str]) -> str:
    """Write a shard key as mongosh takes it: ``{study_instance_uid: "hashed"}``."""
    parts = [f'{name}: "{kind}"' if isinstance(kind, str) else f"{name}: {kind}" for name, kind in key.items()]
    return "{" + ", ".join(parts) + "}"
