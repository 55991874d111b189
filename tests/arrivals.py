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

import pydicom

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


def unordered(value: Any) -> Any:
    """Return ``value`` with every list sorted: a document as it is whatever order its objects arrived in.

    DoseLedger keeps events, reports and the objects folded into an event in the
    order they arrived; a PACS sends the objects of a series in an order of its own.
    """
    if isinstance(value, dict):
        return {key: unordered(item) for key, item in value.items()}
    if isinstance(value, list):
        return sorted((unordered(item) for item in value), key=repr)
    return value


def chronological(files: list[Path]) -> list[Path]:
    """Return ``files`` in the order they were made (study, then series date and time, series and instance number).

    A query/retrieve run takes a study's series in this order (service.dicomnet.selection.plan),
    so an import of the files in this order is the reference for what it must give.
    """

    def made(path: Path) -> tuple[str, str, int, int, str]:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        when = f"{ds.get('SeriesDate') or ''}{ds.get('SeriesTime') or ''}"
        return (
            str(ds.get("StudyDate") or ""),
            when,
            int(ds.get("SeriesNumber") or 0),
            int(ds.get("InstanceNumber") or 0),
            path.name,
        )

    return sorted(files, key=made)
