"""Studies per list modality and station, kept at write time for the home page and list totals.

Counting over a large collection is slow on SecantusDB (a full ``$group`` over
100,000 studies takes 12 s, ``count_documents`` 6-7 s; DESIGN.md, "Database"),
so the store keeps one small tally per (list modality, station): the number of
studies and the latest study date-time. Every study write moves the tallies
from the study's old keys to its new ones; a bulk load adds its documents'
counts at once. The pure functions say what changes; :class:`TallyStore`
applies the changes. Removing a study (:meth:`TallyStore.remove_from_tallies`)
takes one off each of its tallies and, where it was a tally's latest study,
finds the latest of those left.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from service.modalities import MODALITIES, list_modalities
from service.storage.connection import Index, guarded, utcnow

Key = tuple[str, str | None]  # (list modality, station name)
#: the ``counters`` entry saying the tallies have been counted from the studies once
TALLIES_BUILT = "tallies"

INDEXES: tuple[Index, ...] = (("tallies", [("modality", ASCENDING), ("station_name", ASCENDING)], {"unique": True}),)


def tally_keys(document: dict[str, Any] | None) -> set[Key]:
    """Return the tallies a study counts in: one per list modality it appears in."""
    if document is None:
        return set()
    station = (document.get("equipment") or {}).get("station_name")
    return {(modality, station) for modality in list_modalities(document.get("modalities") or [])}


def tally_changes(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[tuple[Key, int, datetime | None]]:
    """Return (key, change of count, study date-time) for each tally a study write (or removal) moves.

    A tally the study stays in moves only when the study's date-time becomes
    later: its latest date-time reached the earlier one when that was written.
    """
    old, new = tally_keys(before), tally_keys(after)
    when = (after or {}).get("study_date_time")
    earlier = (before or {}).get("study_date_time")
    later = when is not None and (earlier is None or when > earlier)
    return [
        (key, (key in new) - (key in old), when if key in new else None)
        for key in sorted(old | new, key=str)
        if (key in new) != (key in old) or later
    ]


def tally_documents(documents: Iterable[dict[str, Any]]) -> dict[Key, tuple[int, datetime | None]]:
    """Return the count and latest date-time of each tally over ``documents`` (a bulk load or a recount)."""
    found: dict[Key, tuple[int, datetime | None]] = {}
    for document in documents:
        when = document.get("study_date_time")
        for key in tally_keys(document):
            count, latest = found.get(key, (0, None))
            found[key] = (count + 1, max((d for d in (latest, when) if d is not None), default=None))
    return found


class TallyStore:
    """The ``tallies`` collection of a :class:`service.storage.Store`."""

    db: Database[dict[str, Any]]

    @guarded
    def tallies(self) -> list[dict[str, Any]]:
        """Return the tallies: ``{modality, station_name, count, latest}`` per list modality and station."""
        return list(self.db.tallies.find({"count": {"$gt": 0}}, {"_id": 0}))

    @guarded
    def all_tallies(self) -> list[dict[str, Any]]:
        """Return every tally, those at 0 included."""
        return list(self.db.tallies.find({}, {"_id": 0}))

    @guarded
    def tally(self, key: Key) -> dict[str, Any] | None:
        """Return one tally, or None."""
        return self.db.tallies.find_one({"modality": key[0], "station_name": key[1]}, {"_id": 0})

    @guarded
    def set_tally(self, key: Key, count: int, latest: datetime | None, *, expected: dict[str, Any] | None) -> bool:
        """Set a tally (a repair) unless it is no longer ``expected`` (as :meth:`tally` read it); tell whether set."""
        where = {"modality": key[0], "station_name": key[1]}
        tally = {**where, "count": count, "latest": latest}
        if expected is None:
            try:
                self.db.tallies.insert_one(tally)
            except DuplicateKeyError:
                return False
            return True
        return self.db.tallies.replace_one({**where, **expected}, tally).matched_count == 1

    def move_tallies(self, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
        """Move the tallies for a study written (``before`` -> ``after``) or removed (``after`` None)."""
        for key, change, when in tally_changes(before, after):
            self._add_to_tally(key, change, when)

    def remove_from_tallies(self, document: dict[str, Any]) -> None:
        """Take a deleted study out of its tallies; a tally whose latest study it was gets the latest left."""
        when = document.get("study_date_time")
        for key in sorted(tally_keys(document), key=str):
            self._add_to_tally(key, -1, None)
            if when is not None:
                tally = {"modality": key[0], "station_name": key[1], "latest": when}
                self.db.tallies.update_one(tally, {"$set": {"latest": self._latest_study(key)}})

    def _latest_study(self, key: Key) -> datetime | None:
        """Return the latest study date-time of the studies in tally ``key``."""
        query = {
            "modalities": MODALITIES[key[0]].stored,
            "equipment.station_name": key[1],
            "study_date_time": {"$ne": None},
        }
        latest = [("study_date_time", DESCENDING)]
        found = self.db.studies.find_one(query, {"study_date_time": 1}, sort=latest, comment="studies.tally-latest")
        return None if found is None else found["study_date_time"]

    def add_to_tallies(self, documents: Iterable[dict[str, Any]]) -> None:
        """Count new study documents in the tallies (a bulk load)."""
        for key, (count, latest) in tally_documents(documents).items():
            self._add_to_tally(key, count, latest)

    def _add_to_tally(self, key: Key, change: int, when: datetime | None) -> None:
        """Add ``change`` to a tally and raise its latest date-time to ``when``."""
        update: dict[str, Any] = {"$inc": {"count": change}}
        if when is not None:
            update["$max"] = {"latest": when}
        for _ in range(2):  # two first upserts of one tally can race; the loser updates
            with contextlib.suppress(DuplicateKeyError):
                self.db.tallies.update_one({"modality": key[0], "station_name": key[1]}, update, upsert=True)
                return

    @guarded
    def rebuild_tallies(self) -> None:
        """Count the tallies again from the studies (first start on an existing database, or repair)."""
        fields = {"_id": 0, "modalities": 1, "equipment.station_name": 1, "study_date_time": 1}
        counted = tally_documents(self.db.studies.find({}, fields, comment="studies.tallies"))
        self.db.tallies.delete_many({})
        for (modality, station), (count, latest) in counted.items():
            tally = {"modality": modality, "station_name": station, "count": count, "latest": latest}
            self.db.tallies.insert_one(tally)
        self.db.counters.update_one({"_id": TALLIES_BUILT}, {"$set": {"at": utcnow()}}, upsert=True)

    def tallies_built(self) -> bool:
        """Tell whether the tallies have been counted from the studies once."""
        return self.db.counters.find_one({"_id": TALLIES_BUILT}) is not None
