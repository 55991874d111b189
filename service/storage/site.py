"""Site values: a few named facts about one installation, kept in the database (collection ``site``).

Each value is claimed once: :meth:`SiteStore.claim_site_value` inserts it
unless it is there, and answers the value that is, so processes starting at
once agree on the first one written (the unique ``_id`` decides). The
fingerprint of the patient-key secret lives here (service.access.patient_key).
"""

from __future__ import annotations

from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from service.storage.connection import guarded, utcnow


class SiteStore:
    """The ``site`` collection of a :class:`service.storage.Store`."""

    db: Database[dict[str, Any]]

    @guarded
    def site_value(self, name: str) -> str | None:
        """Return the value stored under ``name``, or None."""
        entry = self.db.site.find_one({"_id": name})
        return None if entry is None else str(entry["value"])

    @guarded
    def claim_site_value(self, name: str, value: str) -> str:
        """Store ``value`` under ``name`` unless a value is there; return the value stored."""
        try:
            self.db.site.insert_one({"_id": name, "value": value, "at": utcnow()})
        except DuplicateKeyError:
            stored = self.site_value(name)
            assert stored is not None
            return stored
        return value
