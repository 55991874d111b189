"""What a database holds once the corpus has arrived, comparable whichever way it came.

The reference is ``doseledger import`` of the corpus (the ``imported`` fixture of
tests/conftest.py); objects sent over DICOM, directly or through a PACS, must
give the same studies. Only what differs by nature is left out of the
comparison: when and how each report arrived (``received_at``, ``via``,
``sha256``: a sender may re-encode an implicit VR file as explicit VR on the
wire) and the write times.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.storage import Store

#: what depends on the way and time of arrival, not on the objects
ARRIVAL = frozenset({"_id", "created_at", "updated_at", "received_at", "via", "sha256"})

Studies = dict[str, Any]


@dataclass(frozen=True)
class Received:
    """What a database holds once objects have arrived: its studies, comparable, and its event log by type."""

    studies: Studies
    outcomes: Counter[str]


def comparable(value: Any) -> Any:
    """Drop the arrival fields from a document, at every depth."""
    if isinstance(value, dict):
        return {key: comparable(item) for key, item in value.items() if key not in ARRIVAL}
    if isinstance(value, list):
        return [comparable(item) for item in value]
    return value


def studies(store: Store) -> Studies:
    """Return every study of ``store`` by Study Instance UID, comparable."""
    return {document["study_instance_uid"]: comparable(document) for document in store.db.studies.find({})}


def received(store: Store) -> Received:
    """Return the studies and event-log counts of ``store``."""
    entries = store.events_after(0, limit=100_000)
    return Received(studies(store), Counter(entry["type"] for entry in entries))


def corpus_files(corpus: Path) -> list[Path]:
    """Return the corpus's DICOM files in the order an import of the folder reads them."""
    return sorted(corpus.glob("*.dcm"))
