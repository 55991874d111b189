"""Remote PACS nodes, the C-MOVEs under way, and which objects of a study DoseLedger already holds.

- ``pacs_nodes``: one document per node, unique by name.
- ``pacs_moves``: one document per C-MOVE a run has under way, keyed by its
  message ID, which is unique among the moves under way (a random one is taken,
  and the unique ``_id`` refuses a number already in use). The SCP, whichever
  process runs it, finds the move of a C-STORE sub-operation by the Move
  Originator AE title and message ID it carries, and appends what became of the
  object; the run takes the document away when the C-MOVE ends. Documents older
  than :data:`STALE_MOVE` (a process that died mid-move) are deleted when a run starts.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from service.errors import Conflict, DatabaseUnavailable, NotFound
from service.storage.connection import Index, guarded, utcnow

#: a move still registered this long after it started belongs to a process that died
STALE_MOVE = timedelta(days=1)
#: attempts at a free message ID before giving up (65,535 numbers, a handful in use)
MOVE_ID_ATTEMPTS = 50

INDEXES: tuple[Index, ...] = (
    ("pacs_nodes", [("name", ASCENDING)], {"unique": True}),
    ("pacs_moves", [("started_at", ASCENDING)], {}),
)


class PacsStore:
    """The ``pacs_nodes`` and ``pacs_moves`` collections of a :class:`service.storage.Store`."""

    db: Database[dict[str, Any]]

    @guarded
    def pacs_nodes(self) -> list[dict[str, Any]]:
        """Return every node, by name."""
        return list(self.db.pacs_nodes.find({}, {"_id": 0}).sort("name", ASCENDING))

    @guarded
    def pacs_node(self, name: str) -> dict[str, Any]:
        """Return one node; raise :class:`NotFound` naming the nodes there are."""
        node = self.db.pacs_nodes.find_one({"name": name}, {"_id": 0})
        if node is None:
            names = ", ".join(n["name"] for n in self.db.pacs_nodes.find({}, {"name": 1})) or "none yet"
            raise NotFound(f"There is no PACS node named {name!r} (nodes: {names}).")
        return node

    @guarded
    def add_pacs_node(self, node: dict[str, Any]) -> None:
        """Add a node; raise :class:`Conflict` when its name is taken."""
        try:
            self.db.pacs_nodes.insert_one(dict(node))
        except DuplicateKeyError:
            raise Conflict(f"A PACS node named {node['name']!r} exists already; delete it first.") from None

    @guarded
    def delete_pacs_node(self, name: str) -> bool:
        """Delete a node; tell whether there was one."""
        return self.db.pacs_nodes.delete_one({"name": name}).deleted_count == 1

    @guarded
    def known_sop_instance_uids(self, study_uid: str, uids: list[str]) -> set[str]:
        """Return those of ``uids`` DoseLedger holds for a study: in its reports, or refused in an earlier run."""
        if not uids:
            return set()
        wanted = set(uids)
        query = {"study_instance_uid": study_uid}
        study = self.db.studies.find_one(query, {"reports.sop_instance_uid": 1}, comment="studies.held")
        known = {report.get("sop_instance_uid") for report in (study or {}).get("reports", [])} & wanted
        refused = self.db.pacs_run_studies.find(
            {"study_instance_uid": study_uid, "rejected_uids": {"$in": sorted(wanted - known)}}, {"rejected_uids": 1}
        )
        for record in refused:
            known |= set(record["rejected_uids"]) & wanted
        return known

    @guarded
    def start_move(self, *, calling_ae_title: str, node_ae_title: str, run: str, node: str, study: str) -> int:
        """Register a C-MOVE about to be sent and return its message ID (1-65535, unused by other moves)."""
        now = utcnow()
        document = {
            "calling_ae_title": calling_ae_title,
            "node_ae_title": node_ae_title,
            "run": run,
            "node": node,
            "study": study,
            "arrived": [],
        }
        for _ in range(MOVE_ID_ATTEMPTS):
            message_id = random.randint(1, 0xFFFF)
            try:
                self.db.pacs_moves.insert_one({"_id": message_id, **document, "started_at": now})
            except DuplicateKeyError:
                continue
            return message_id
        raise DatabaseUnavailable(f"No free C-MOVE message ID was found in {MOVE_ID_ATTEMPTS} attempts.")

    @guarded
    def forget_stale_moves(self) -> None:
        """Delete the moves registered longer ago than :data:`STALE_MOVE` (their process died)."""
        self.db.pacs_moves.delete_many({"started_at": {"$lt": utcnow() - STALE_MOVE}})

    @guarded
    def find_move(self, originator: str, message_id: int, sender: str) -> dict[str, Any] | None:
        """Return the move a C-STORE sub-operation belongs to, if it is one of ours.

        It is ours when it names a move under way by its message ID, and either
        names DoseLedger as the Move Originator or comes from the node the move
        was sent to (PACS that name themselves as the originator, as pynetdicom does).
        """
        query = {"_id": message_id, "$or": [{"calling_ae_title": originator}, {"node_ae_title": sender}]}
        return self.db.pacs_moves.find_one(query, {"arrived": 0, "started_at": 0})

    @guarded
    def record_move_arrival(self, message_id: int, sop_instance_uid: str, outcome: str, code: str | None) -> None:
        """Record what became of one object a move sent."""
        arrival = {"sop_instance_uid": sop_instance_uid, "outcome": outcome, "code": code}
        self.db.pacs_moves.update_one({"_id": message_id}, {"$push": {"arrived": arrival}})

    @guarded
    def finish_move(self, message_id: int) -> list[dict[str, Any]]:
        """Unregister a move and return what became of the objects it sent."""
        document = self.db.pacs_moves.find_one_and_delete({"_id": message_id})
        return list((document or {}).get("arrived", []))
