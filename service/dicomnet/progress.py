"""The progress record of a query/retrieve run: its states, its counts, and the record of each study it found.

Run states (README, "Run states"): ``queued`` (stored, not started), ``running``,
then ``completed`` (every study fetched, skipped or excluded), ``incomplete``
(some studies failed: the next run retries them), ``cancelled`` or ``failed``
(the study query itself failed: nothing could be retrieved).

Study states: ``pending``, ``fetched`` (every object asked for arrived),
``skipped`` (DoseLedger holds every dose object the PACS lists, or the PACS lists
none), ``excluded`` (by a station or description filter), ``failed`` (with what
went wrong) and ``cancelled``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from service.dicomnet.selection import FoundStudy

RUN_STATES = ("queued", "running", "completed", "incomplete", "cancelled", "failed")
#: the states of a run that has ended
FINISHED = frozenset({"completed", "incomplete", "cancelled", "failed"})
STUDY_STATES = ("pending", "fetched", "skipped", "excluded", "failed", "cancelled")
#: what is counted of the objects: asked for, arrived (kept), refused by ingest (kept too), already held, missing
OBJECT_COUNTS = ("requested", "received", "rejected", "skipped", "failed")


def empty_counts() -> dict[str, Any]:
    """Return the counts of a run that has found nothing yet."""
    return {
        "studies": {"found": 0, **dict.fromkeys(STUDY_STATES, 0)},
        "series": 0,
        "objects": dict.fromkeys(OBJECT_COUNTS, 0),
    }


@dataclass
class StudyRecord:
    """One study a run found, and what became of it."""

    uid: str
    position: int
    date: str = ""
    description: str = ""
    accession_number: str = ""
    modalities: tuple[str, ...] = ()
    status: str = "pending"
    message: str = ""
    stations: tuple[str, ...] = ()
    series: int = 0
    objects: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OBJECT_COUNTS, 0))
    #: SOP Instance UIDs that arrived and that ingest refused (kept): not asked for again
    rejected_uids: list[str] = field(default_factory=list)

    @classmethod
    def found(cls, study: FoundStudy, position: int) -> StudyRecord:
        """Return the record of a study a C-FIND found."""
        return cls(study.uid, position, study.date, study.description, study.accession_number, study.modalities)

    def end(self, status: str, message: str) -> None:
        """Set what became of the study."""
        self.status, self.message = status, message

    def progress(self) -> dict[str, Any]:
        """Return the fields a study's processing changes, as stored."""
        return {
            "status": self.status,
            "message": self.message,
            "stations": list(self.stations),
            "series": self.series,
            "objects": dict(self.objects),
            "rejected_uids": list(self.rejected_uids),
        }

    def as_document(self, run_id: str) -> dict[str, Any]:
        """Return the record as stored."""
        return {
            "run": run_id,
            "study_instance_uid": self.uid,
            "position": self.position,
            "study_date": self.date,
            "study_description": self.description,
            "accession_number": self.accession_number,
            "modalities": list(self.modalities),
            **self.progress(),
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> StudyRecord:
        """Build a record from its stored document."""
        return cls(
            uid=document["study_instance_uid"],
            position=document["position"],
            date=document.get("study_date", ""),
            description=document.get("study_description", ""),
            accession_number=document.get("accession_number", ""),
            modalities=tuple(document.get("modalities", ())),
            status=document.get("status", "pending"),
            message=document.get("message", ""),
            stations=tuple(document.get("stations", ())),
            series=document.get("series", 0),
            objects={name: document.get("objects", {}).get(name, 0) for name in OBJECT_COUNTS},
            rejected_uids=list(document.get("rejected_uids", [])),
        )


def add_to_counts(counts: dict[str, Any], record: StudyRecord) -> None:
    """Move a study that has been processed from ``pending`` to its state, and add what it gave."""
    counts["studies"]["pending"] -= 1
    counts["studies"][record.status] += 1
    counts["series"] += record.series
    for name in OBJECT_COUNTS:
        counts["objects"][name] += record.objects[name]


def count_all(records: list[StudyRecord]) -> dict[str, Any]:
    """Return the counts of a run from all its study records (a resumed run starts from these)."""
    counts = empty_counts()
    counts["studies"]["found"] = len(records)
    counts["studies"]["pending"] = len(records)
    for record in records:
        if record.status != "pending":
            add_to_counts(counts, record)
    return counts
