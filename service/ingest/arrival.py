"""What the pipeline carries for each object (:mod:`service.ingest.pipeline`): where it came from, what became of it.

:class:`Arrival` names an object as it came (its name, way in, sender, hash,
time, size, the PACS run that asked for it) and the journal entry of its study
write (:mod:`service.storage.journal`); :class:`Outcome` is what happened to
it; and the helpers that word its event-log entries.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from pydicom.dataset import Dataset

OUTCOMES = ("created", "merged", "duplicate", "rejected")
#: seconds the event log gets to record an object whose ingest failed (see Pipeline.log_received_alone)
LAST_WORD = 1.0
#: what the entries of an object taken in again after an interrupted write say (service.ingest.recovery)
RECOVERED = {"recovered": "after an interrupted write"}
RECOVERED_NOTE = " (taken in again from its kept original after an interrupted write)"


@dataclass(frozen=True)
class Outcome:
    """What happened to one object."""

    name: str
    outcome: str
    study_instance_uid: str | None = None
    sop_instance_uid: str | None = None
    message: str = ""
    #: the :class:`RejectedObject` code when rejected, else None
    code: str | None = None
    sha256: str | None = None

    @property
    def rejected(self) -> bool:
        """Tell whether the object was rejected."""
        return self.outcome == "rejected"

    def as_dict(self) -> dict[str, Any]:
        """Return the per-object result as sent to API clients."""
        result = asdict(self)
        del result["sha256"]
        return result


@dataclass(frozen=True)
class Arrival:
    """Where an object came from, carried through the steps."""

    name: str
    via: str
    client: str
    sha256: str | None
    received_at: datetime
    #: the number of bytes received (None when reprocessing a kept original)
    size: int | None = None
    #: the query/retrieve run that asked for the object (``{"node", "run"}``), for the event log's ``details.pacs``
    origin: dict[str, Any] | None = None
    #: the journal entry of its study write (service.storage.journal)
    journal: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)
    #: taken in again after an interrupted write (service.ingest.recovery): its entries say so
    recovered: bool = False


#: what happened to one object, and the event-log entries that say so (the outcome's, then any alert's)
Result = tuple["Outcome", list[dict[str, Any]]]


def identity(ds: Dataset | None) -> tuple[str | None, str | None]:
    """Return the Study and SOP Instance UIDs of ``ds`` as far as it has them."""
    if ds is None:
        return None, None
    try:
        study, sop = ds.get("StudyInstanceUID"), ds.get("SOPInstanceUID")
    except Exception:  # a malformed UID value must not hide the real rejection reason
        return None, None
    return (str(study) if study else None), (str(sop) if sop else None)


def origin_details(arrival: Arrival, details: dict[str, Any] | None) -> dict[str, Any] | None:
    """Add the PACS run an object came from to an event-log entry's ``details``."""
    if arrival.origin is None:
        return details
    return {**(details or {}), "pacs": arrival.origin}


def size_text(size: int | None) -> str:
    """Say how many bytes arrived (None: a body refused before its length was known)."""
    return "more bytes than the limit" if size is None else f"{size} bytes"


def with_name(name: str, message: str) -> str:
    """Make sure a message names the object it is about."""
    return message if name in message else f"{name} was rejected: {message}"


@dataclass(frozen=True)
class Prepared:
    """An object checked, kept and extracted: ready to be folded into its study (service.ingest.grouped too)."""

    arrival: Arrival
    ds: Dataset
    fragment: dict[str, Any]


def noted(arrival: Arrival, fragment: dict[str, Any]) -> dict[str, Any]:
    """Return the object as the journal notes its study write (service.storage.journal)."""
    return {
        "_id": arrival.journal,
        "name": arrival.name,
        "via": arrival.via,
        "client": arrival.client,
        "sha256": arrival.sha256,
        "received_at": arrival.received_at,
        "study_instance_uid": fragment["study_instance_uid"],
        "sop_instance_uid": fragment["report"].get("sop_instance_uid"),
    }
