"""Alert rules, alerts and the notification outbox.

- ``alert_rules``: one document (``_id`` ``"table"``) holding the rule table as the
  administrator gave it, its ``version`` (one more at every change), who changed it
  and when, and ``audit_levels``: its study-total levels in the study document's
  units, which the high-dose audit reads (in ``mongosh`` too). Readers keep it for
  :data:`RULES_MAX_AGE` seconds, so ingest does not read it per object.
- ``alerts``: one document per study and rule, ever: its ``_id`` is made of both
  (:func:`service.alerts.records.alert_id`), so a second insert is refused by the
  primary key whatever number of reports arrive and whichever process raises it.
- ``outbox``: one document per alert and recipient (again keyed by both: enqueued
  once). A sender claims due entries with a lease, marks them ``sent`` only after the
  recipient accepted them, and otherwise sets the next attempt (backoff).
"""

from __future__ import annotations

import contextlib
import time
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from service.storage.connection import Index, guarded, raise_unless_duplicates

#: seconds a process keeps the rule table it read (a change elsewhere shows after at most this)
RULES_MAX_AGE = 5.0
TABLE_ID = "table"
#: due notifications looked at per claim
CLAIM_LIMIT = 500

INDEXES: tuple[Index, ...] = (
    ("alerts", [("raised_at", DESCENDING)], {}),
    ("alerts", [("state_rank", ASCENDING), ("raised_at", DESCENDING)], {}),
    ("alerts", [("study_instance_uid", ASCENDING)], {}),
    ("outbox", [("state", ASCENDING), ("next_at", ASCENDING)], {}),
    # a patient's studies over a window (cumulative rules: patient.key, service.access.patient_key)
    ("studies", [("patient.key", ASCENDING), ("study_date_time", ASCENDING)], {}),
)


class AlertStore:
    """The ``alert_rules``, ``alerts`` and ``outbox`` collections of a :class:`service.storage.Store`."""

    db: Database[dict[str, Any]]
    _rules_cache: tuple[float, dict[str, Any] | None] | None = None

    # -- rules ---------------------------------------------------------------------

    @guarded
    def alert_table(self, *, fresh: bool = False) -> dict[str, Any] | None:
        """Return the stored rule table (None: never stored), as read at most :data:`RULES_MAX_AGE` s ago."""
        cached = self._rules_cache
        if not fresh and cached is not None and time.monotonic() - cached[0] < RULES_MAX_AGE:
            return cached[1]
        table = self.db.alert_rules.find_one({"_id": TABLE_ID})
        self._rules_cache = (time.monotonic(), table)
        return table

    @guarded
    def seed_alert_table(self, table: dict[str, Any]) -> None:
        """Store ``table`` (version 1) unless a table is stored already."""
        with contextlib.suppress(DuplicateKeyError):
            self.db.alert_rules.insert_one({"_id": TABLE_ID, "version": 1, **table})
        self._rules_cache = None

    @guarded
    def replace_alert_table(self, table: dict[str, Any]) -> int:
        """Replace the rule table with ``table``; return its new version."""
        stored = self.db.alert_rules.find_one_and_update(
            {"_id": TABLE_ID},
            {"$set": table, "$inc": {"version": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        self._rules_cache = None
        return int(stored["version"])

    # -- alerts --------------------------------------------------------------------

    @guarded
    def insert_alert(self, alert: dict[str, Any]) -> bool:
        """Insert an alert; tell whether it is new (False: this study and rule have one already)."""
        try:
            self.db.alerts.insert_one(alert)
        except DuplicateKeyError:
            return False
        return True

    @guarded
    def alerts_exist(self, ids: list[str]) -> list[str]:
        """Return which of the alert ids ``ids`` exist."""
        return [found["_id"] for found in self.db.alerts.find({"_id": {"$in": ids}}, {"_id": 1})]

    @guarded
    def get_alert(self, alert_id: str) -> dict[str, Any] | None:
        """Return one alert, or None."""
        return self.db.alerts.find_one({"_id": alert_id})

    @guarded
    def find_alerts(
        self, filter: dict[str, Any], *, open_first: bool = False, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Return matching alerts newest first (open ones first with ``open_first``), at most ``limit``."""
        sort = [("state_rank", ASCENDING)] if open_first else []
        sort += [("raised_at", DESCENDING), ("_id", ASCENDING)]
        return list(self.db.alerts.find(filter, sort=sort, limit=limit))

    @guarded
    def change_alert(
        self, alert_id: str, states: tuple[str, ...], changes: dict[str, Any], entry: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Apply ``changes`` to an alert in one of ``states`` and append ``entry`` to its history.

        Return the changed alert, or None when there is no such alert in those states.
        """
        return self.db.alerts.find_one_and_update(
            {"_id": alert_id, "state": {"$in": list(states)}},
            {"$set": changes, "$push": {"history": entry}},
            return_document=ReturnDocument.AFTER,
        )

    # -- outbox --------------------------------------------------------------------

    @guarded
    def enqueue(self, items: list[dict[str, Any]]) -> int:
        """Add notifications to the outbox (each ``_id`` once); return how many were new."""
        if not items:
            return 0
        try:
            return len(self.db.outbox.insert_many(items, ordered=False).inserted_ids)
        except BulkWriteError as e:
            raise_unless_duplicates(e)
            return int(e.details["nInserted"])

    @guarded
    def claim_due(self, cutoff: datetime, now: datetime, owner: str, until: datetime) -> list[dict[str, Any]]:
        """Lease to ``owner`` every pending notification of the recipients that have one due by ``cutoff``.

        A recipient's other notifications due by ``now`` go along (one digest); return the leased ones.
        """
        free = {"$or": [{"lease_until": None}, {"lease_until": {"$lt": now}}]}
        due = {"state": "pending", "next_at": {"$lte": cutoff}, **free}
        recipients = {item["recipient"] for item in self.db.outbox.find(due, {"recipient": 1}, limit=CLAIM_LIMIT)}
        if not recipients:
            return []
        pending = {"state": "pending", "recipient": {"$in": sorted(recipients)}, "next_at": {"$lte": now}, **free}
        self.db.outbox.update_many(pending, {"$set": {"lease_owner": owner, "lease_until": until}})
        return list(self.db.outbox.find({"lease_owner": owner, "state": "pending"}, sort=[("created_at", ASCENDING)]))

    @guarded
    def settle(self, ids: list[str], owner: str, changes: dict[str, Any], *, failed: bool = False) -> None:
        """Record the end of an attempt on notifications leased to ``owner``: ``changes``, lease released."""
        update: dict[str, Any] = {"$set": {**changes, "lease_owner": None, "lease_until": None}}
        if failed:
            update["$inc"] = {"attempts": 1}
        self.db.outbox.update_many({"_id": {"$in": ids}, "lease_owner": owner}, update)

    @guarded
    def count_outbox(self, filter: dict[str, Any]) -> int:
        """Count the outbox entries matching ``filter``."""
        return self.db.outbox.count_documents(filter)

    @guarded
    def outbox_items(self, filter: dict[str, Any], limit: int = 100) -> list[dict[str, Any]]:
        """Return outbox entries matching ``filter``, oldest first."""
        return list(self.db.outbox.find(filter, sort=[("created_at", ASCENDING)], limit=limit))
