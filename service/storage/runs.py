"""Query/retrieve runs and their studies: the progress record of each run, and who is running it.

- ``pacs_runs``: one document per run. While a run is under way it holds
  ``active_node`` (its node's name; a unique sparse index allows one run under way
  per node), ``owner`` (``host:pid`` of the process running it) and
  ``lease_until``. The owner renews the lease while it works; a run whose lease
  has expired was left by a process that stopped, and another process may claim
  it (:meth:`RunStore.claim_run`, one atomic update) and go on where it stopped.
  ``schedule_key`` (unique, sparse) makes a nightly run start once per node and night.
- ``pacs_run_studies``: one document per study a run found, with its status and
  what it gave; the studies still ``pending`` are what a resumed run goes on with.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from service.errors import Conflict, NotFound
from service.storage.connection import Index, guarded, raise_unless_duplicates

#: the fields a run holds only while under way
UNDER_WAY = {"active_node": "", "owner": "", "lease_until": ""}

INDEXES: tuple[Index, ...] = (
    ("pacs_runs", [("active_node", ASCENDING)], {"unique": True, "sparse": True}),
    ("pacs_runs", [("schedule_key", ASCENDING)], {"unique": True, "sparse": True}),
    ("pacs_runs", [("node", ASCENDING), ("created_at", DESCENDING)], {}),
    ("pacs_runs", [("created_at", DESCENDING)], {}),
    ("pacs_run_studies", [("run", ASCENDING), ("study_instance_uid", ASCENDING)], {"unique": True}),
    ("pacs_run_studies", [("run", ASCENDING), ("position", ASCENDING)], {}),
    ("pacs_run_studies", [("study_instance_uid", ASCENDING)], {}),
)


class RunStore:
    """The ``pacs_runs`` and ``pacs_run_studies`` collections of a :class:`service.storage.Store`."""

    db: Database[dict[str, Any]]

    @guarded
    def insert_run(self, run: dict[str, Any]) -> str:
        """Store a new run (under way) and return its id; raise :class:`Conflict` if its node has one under way."""
        document = {**run, "_id": str(ObjectId())}
        try:
            self.db.pacs_runs.insert_one(document)
        except DuplicateKeyError as e:
            if "schedule_key" in str(e):
                raise Conflict(f"The scheduled run {run.get('schedule_key')} has started already.") from None
            active = self.db.pacs_runs.find_one({"active_node": run["active_node"]}, {"status": 1})
            under_way = f"run {active['_id']} ({active['status']})" if active else "a run"
            raise Conflict(
                f"PACS node {run['node']!r} has {under_way} under way; wait for it, or cancel it, first."
            ) from None
        return str(document["_id"])

    @guarded
    def get_run(self, run_id: str) -> dict[str, Any]:
        """Return one run; raise :class:`NotFound` if there is none."""
        run = self.db.pacs_runs.find_one({"_id": run_id})
        if run is None:
            raise NotFound(f"There is no query/retrieve run {run_id!r}.")
        return run

    @guarded
    def runs(self, node: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Return the latest runs (of one node), newest first."""
        query = {} if node is None else {"node": node}
        return list(self.db.pacs_runs.find(query).sort("created_at", DESCENDING).limit(limit))

    @guarded
    def active_run(self, node: str) -> dict[str, Any] | None:
        """Return the run a node has under way, if any."""
        return self.db.pacs_runs.find_one({"active_node": node})

    @guarded
    def update_run(self, run_id: str, owner: str, fields: dict[str, Any]) -> bool:
        """Set fields of a run this owner holds; tell whether it still holds it."""
        return self.db.pacs_runs.update_one({"_id": run_id, "owner": owner}, {"$set": fields}).matched_count == 1

    @guarded
    def finish_run(self, run_id: str, owner: str, fields: dict[str, Any]) -> bool:
        """Set a run's final fields and end it (its node may start another); tell whether this owner held it."""
        update = {"$set": fields, "$unset": UNDER_WAY}
        return self.db.pacs_runs.update_one({"_id": run_id, "owner": owner}, update).matched_count == 1

    @guarded
    def renew_lease(self, run_id: str, owner: str, until: datetime) -> bool:
        """Extend the lease of a run this owner holds; tell whether it still holds it."""
        query = {"_id": run_id, "owner": owner, "active_node": {"$exists": True}}
        return self.db.pacs_runs.update_one(query, {"$set": {"lease_until": until}}).matched_count == 1

    @guarded
    def claim_run(self, run_id: str, owner: str, now: datetime, until: datetime) -> dict[str, Any] | None:
        """Take over a run whose lease has expired; return it, or None when another process holds it."""
        return self.db.pacs_runs.find_one_and_update(
            {"_id": run_id, "active_node": {"$exists": True}, "lease_until": {"$lt": now}},
            {"$set": {"owner": owner, "lease_until": until}},
            return_document=ReturnDocument.AFTER,
        )

    @guarded
    def abandoned_runs(self, now: datetime) -> list[str]:
        """Return the ids of the runs under way whose lease has expired."""
        query = {"active_node": {"$exists": True}, "lease_until": {"$lt": now}}
        return [run["_id"] for run in self.db.pacs_runs.find(query, {"_id": 1}).sort("created_at", ASCENDING)]

    @guarded
    def request_cancel(self, run_id: str, now: datetime) -> dict[str, Any]:
        """Cancel a run: at once when nobody runs it (lease expired), else ask its owner to stop."""
        abandoned = {"_id": run_id, "active_node": {"$exists": True}, "lease_until": {"$lt": now}}
        ended = {"status": "cancelled", "finished_at": now, "message": "Cancelled while no process was running it."}
        run = self.db.pacs_runs.find_one_and_update(
            abandoned, {"$set": ended, "$unset": UNDER_WAY}, return_document=ReturnDocument.AFTER
        )
        if run is None:
            run = self.db.pacs_runs.find_one_and_update(
                {"_id": run_id, "active_node": {"$exists": True}},
                {"$set": {"cancel_requested": True}},
                return_document=ReturnDocument.AFTER,
            )
        if run is None:
            finished = self.get_run(run_id)
            raise Conflict(f"Run {run_id} is not under way: it ended {finished['status']}.")
        return run

    @guarded
    def cancel_requested(self, run_id: str) -> bool:
        """Tell whether someone asked a run to stop."""
        run = self.db.pacs_runs.find_one({"_id": run_id}, {"cancel_requested": 1})
        return bool(run and run.get("cancel_requested"))

    @guarded
    def add_run_studies(self, records: list[dict[str, Any]]) -> None:
        """Store the studies a run found (a study it stored before, on a resumed query, stays as it was)."""
        if not records:
            return
        try:
            self.db.pacs_run_studies.insert_many([dict(record) for record in records], ordered=False)
        except BulkWriteError as e:
            raise_unless_duplicates(e)

    @guarded
    def save_run_study(self, run_id: str, study_uid: str, fields: dict[str, Any]) -> None:
        """Set what became of one study of a run."""
        self.db.pacs_run_studies.update_one({"run": run_id, "study_instance_uid": study_uid}, {"$set": fields})

    @guarded
    def run_studies(self, run_id: str, *, status: str | None = None, limit: int = 0) -> list[dict[str, Any]]:
        """Return the studies of a run in the order it takes them (of one status), at most ``limit`` (0: all)."""
        query: dict[str, Any] = {"run": run_id} if status is None else {"run": run_id, "status": status}
        cursor = self.db.pacs_run_studies.find(query, {"_id": 0}).sort("position", ASCENDING)
        return list(cursor.limit(limit) if limit else cursor)
