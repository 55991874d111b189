"""``doseledger migrate``: upgrade every study document older than the schema version this code writes.

Documents carry ``schema_version`` (:mod:`schemas.versions`). Writes upgrade
the study they touch; this upgrades the rest, each study through the store's
read-upgrade-write cycle (optimistic on ``revision``, like an import), so it
may run while the service runs. A study already current is left alone, so a
second run changes nothing. The run is one event-log entry (type ``migrate``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas.study import validate_study
from schemas.versions import SCHEMA_VERSION, upgrade, version_of
from service.errors import InvalidDoseReport
from service.ingest.merge import MergeResult
from service.storage import Store

#: studies read per query while looking for older documents
BATCH = 500
#: failures named in the event-log entry (all are printed)
LOGGED_FAILURES = 100


@dataclass
class Migration:
    """What a run did."""

    upgraded: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (Study Instance UID, why)
    newer: int = 0  # documents written by a later release, left as they are

    @property
    def ok(self) -> bool:
        """Tell whether every document is now at this release's version."""
        return not self.failed and not self.newer

    def summary(self, total: int) -> str:
        """Say what was done, and what there is when there was nothing to do."""
        if not self.upgraded and self.ok:
            return f"Nothing to upgrade: all {total} studies are at schema version {SCHEMA_VERSION}."
        text = f"{_studies(self.upgraded)} upgraded to schema version {SCHEMA_VERSION} ({total} in all)."
        if self.failed:
            text += f" {_studies(len(self.failed))} could not be upgraded."
        if self.newer:
            text += (
                f" Left as written by a later release (schema version above {SCHEMA_VERSION}): {_studies(self.newer)};"
                " this release cannot merge objects into them (upgrade DoseLedger)."
            )
        return text


def _studies(count: int) -> str:
    return f"{count} study" if count == 1 else f"{count} studies"


def count_off_version(store: Store, *, newer: bool = False) -> int:
    """Return how many study documents are older (or ``newer``) than :data:`SCHEMA_VERSION`."""
    count, after = 0, ""
    while found := store.studies_off_version(SCHEMA_VERSION, newer=newer, after=after, limit=BATCH):
        count, after = count + len(found), found[-1]
    return count


def migrate(store: Store, *, via: str, client: str) -> Migration:
    """Upgrade every older study document; count newer ones (left alone); log the run."""
    migration, after = Migration(newer=count_off_version(store, newer=True)), ""
    while found := store.studies_off_version(SCHEMA_VERSION, after=after, limit=BATCH):
        for uid in found:
            try:
                if store.save_study(uid, _upgraded, read_first=True).outcome == "merged":
                    migration.upgraded += 1
            except (InvalidDoseReport, ValueError) as e:
                migration.failed.append((uid, str(e)))
        after = found[-1]
    _log(store, migration, via=via, client=client)
    return migration


def _upgraded(existing: dict[str, Any] | None) -> MergeResult:
    """Fold for :meth:`Store.save_study`: the document at the current version, or nothing to write."""
    if existing is None or version_of(existing) == SCHEMA_VERSION:
        return MergeResult(existing or {}, "duplicate")  # deleted, or upgraded by a write meanwhile
    document = upgrade(existing)
    document["revision"] = existing.get("revision", 0) + 1
    validate_study({key: value for key, value in document.items() if key != "_id"})
    return MergeResult(document, "merged")


def _log(store: Store, migration: Migration, *, via: str, client: str) -> None:
    if not migration.upgraded and migration.ok:
        return
    details: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "upgraded": migration.upgraded}
    if migration.newer:
        details["newer"] = migration.newer
    if migration.failed:
        details["failed"] = [
            {"study_instance_uid": uid, "message": why} for uid, why in migration.failed[:LOGGED_FAILURES]
        ]
    message = migration.summary(store.count_studies())
    outcome = "migrated" if migration.ok else "failed"
    store.append_event("migrate", via=via, client=client, message=message, outcome=outcome, details=details)
