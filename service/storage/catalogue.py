"""What the audits look names and levels up in: standard-name mappings and diagnostic reference levels."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.database import Database

from service.storage.connection import Index, guarded

#: what identifies a standard-name mapping (service.audits): one standard name per raw name
STANDARD_NAME_KEY = ("modality", "field", "raw")

INDEXES: tuple[Index, ...] = (
    ("standard_names", [(name, ASCENDING) for name in STANDARD_NAME_KEY], {"unique": True}),
    ("reference_levels", [("name", ASCENDING), ("quantity", ASCENDING)], {"unique": True}),
)


class Catalogue:
    """The ``standard_names`` and ``reference_levels`` collections of a :class:`service.storage.Store`."""

    db: Database[dict[str, Any]]

    @guarded
    def standard_names(self, modality: str | None = None) -> list[dict[str, Any]]:
        """Return the standard-name mappings (of one modality), sorted."""
        query = {} if modality is None else {"modality": modality}
        return list(self.db.standard_names.find(query, {"_id": 0}).sort([(k, ASCENDING) for k in STANDARD_NAME_KEY]))

    @guarded
    def set_standard_name(self, mapping: dict[str, str]) -> None:
        """Map one raw name to a standard name, replacing an earlier mapping of it."""
        key = {name: mapping[name] for name in STANDARD_NAME_KEY}
        self.db.standard_names.replace_one(key, {**key, "standard": mapping["standard"]}, upsert=True)

    @guarded
    def delete_standard_name(self, mapping: dict[str, str]) -> bool:
        """Delete the mapping of one raw name; tell whether there was one."""
        key = {name: mapping[name] for name in STANDARD_NAME_KEY}
        return self.db.standard_names.delete_one(key).deleted_count == 1

    @guarded
    def reference_levels(self) -> list[dict[str, Any]]:
        """Return the diagnostic reference levels, sorted by quantity and name."""
        return list(self.db.reference_levels.find({}, {"_id": 0}).sort([("quantity", ASCENDING), ("name", ASCENDING)]))

    @guarded
    def replace_reference_levels(self, levels: list[dict[str, Any]]) -> None:
        """Replace the whole DRL table with ``levels``."""
        self.db.reference_levels.delete_many({})
        if levels:
            self.db.reference_levels.insert_many([dict(level) for level in levels])
