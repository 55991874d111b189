"""From an extracted fragment to the validated study document that is stored (DESIGN.md, "Merging").

The one path every way in takes, and ``doseledger extract`` and the tests
with it: :func:`stamp` says which bytes the fragment came from, how and when;
:func:`study_document` folds it into the study (:mod:`service.ingest.merge`)
and validates the result against the study schema; :func:`save_fragment`
does both inside the store's read-fold-write cycle.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.study import validate_study
from service.ingest.merge import MergeResult, merge
from service.storage import Store


def stamp(fragment: dict[str, Any], *, sha256: str, received_at: datetime, via: str) -> dict[str, Any]:
    """Return ``fragment`` with its report naming the bytes' SHA-256, when they came and by which way in."""
    return {**fragment, "report": {**fragment["report"], "sha256": sha256, "received_at": received_at, "via": via}}


def study_document(
    existing: dict[str, Any] | None, fragment: dict[str, Any], *, now: datetime, reprocess: bool = False
) -> MergeResult:
    """Fold a stamped fragment into ``existing`` (None: a new study) and validate the document.

    Raises :class:`service.errors.InvalidDoseReport` when the document breaks the study schema.
    """
    result = merge(existing, fragment, now=now, reprocess=reprocess)
    if result.outcome != "duplicate":  # what merging left as it was was valid when written: not read again
        validate_study({key: value for key, value in result.document.items() if key != "_id"}, before=existing)
    return result


def save_fragment(
    store: Store,
    fragment: dict[str, Any],
    *,
    now: datetime,
    reprocess: bool = False,
    journal: dict[str, Any] | None = None,
) -> MergeResult:
    """Merge a stamped fragment into its study document and write it, retrying on concurrent writes.

    ``journal`` is the object as the journal notes it (service.storage.journal): given, the write is noted first.
    """
    uid = fragment["study_instance_uid"]

    def fold(existing: dict[str, Any] | None) -> MergeResult:
        return study_document(existing, fragment, now=now, reprocess=reprocess)

    def notes(result: Any) -> list[dict[str, Any]]:
        return [{**journal, "outcome": result.outcome}] if journal is not None else []

    result: MergeResult = store.save_study(uid, fold, read_first=reprocess, journal=notes if journal else None)
    return result
