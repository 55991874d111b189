"""``doseledger check``: is the store consistent with itself? Repair what the data says how to repair.

1. **Interrupted writes** (the journal, :mod:`service.ingest.recovery`) are finished.
2. **Tallies** equal the studies: counted again from the studies, in slices; a tally
   whose count differs is set to the count.
3. **Event-log coverage**: every report a study holds has its ``created`` or
   ``merged`` entry (by SHA-256), or its study was made by ``doseledger demo``
   (which logs the study instead); a missing entry is written (``details.recovered``),
   with ``received`` when that is missing too.
4. **Originals**: every report's original is kept (by SHA-256), demonstration
   studies excepted (they have none). A missing original cannot be made again: it
   is reported, and ``check`` exits 1.

What is repaired is logged: the entries written, and one ``check`` entry saying
what was found and done. Writes in flight are left alone: a tally that moves
while the check counts, or a report whose write is noted in the journal, is
reported as busy rather than repaired (run the check again). Memory holds the
SHA-256 of every object logged (about 130 bytes each).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from service.ingest.recovery import log_missing, recover_interrupted
from service.reading.slices import windowed
from service.storage import Store
from service.storage.tallies import Key, tally_documents

if TYPE_CHECKING:
    from service.ingest.pipeline import Pipeline

#: what the check reads of each study
STUDY_FIELDS = {
    "study_instance_uid": 1,
    "modalities": 1,
    "equipment.station_name": 1,
    "study_date_time": 1,
    "created_at": 1,
    "reports.sop_instance_uid": 1,
    "reports.sha256": 1,
    "reports.received_at": 1,
    "reports.via": 1,
}
#: the events that say a report was stored
STORED = ("created", "merged")


@dataclass
class Findings:
    """What a check found, and what it repaired."""

    studies: int = 0
    reports: int = 0
    events: int = 0
    interrupted: list[str] = field(default_factory=list)
    #: (tally, (count, latest) kept, (count, latest) counted)
    tallies: list[tuple[Key, tuple[int, Any], tuple[int, Any]]] = field(default_factory=list)
    #: reports without their event-log entry, as recovery.log_missing takes them
    unlogged: list[dict[str, Any]] = field(default_factory=list)
    #: (study, SHA-256) of reports whose original is not kept
    lost: list[tuple[str, str]] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)
    #: whether what could be repaired was (``doseledger check`` without ``--no-repair``)
    repaired: bool = False

    @property
    def consistent(self) -> bool:
        """Tell whether nothing is wrong (before repairs)."""
        return not (self.interrupted or self.tallies or self.unlogged or self.lost)

    @property
    def left(self) -> bool:
        """Tell whether something is still wrong or unknown after the check (repaired or not)."""
        return bool(self.lost or self.busy) or (not self.repaired and not self.consistent)


@dataclass
class _Log:
    """What the event log says: objects stored, objects received, demonstration studies, and where it ends."""

    stored: set[str] = field(default_factory=set)
    received: set[str] = field(default_factory=set)
    demo: set[str] = field(default_factory=set)
    last: int = 0
    entries: int = 0


def check(pipeline: Pipeline, *, repair: bool, now: datetime) -> Findings:
    """Check the store (see the module) and, with ``repair``, repair what can be; return the findings."""
    store = pipeline.store
    found = Findings(repaired=repair)
    if repair:
        found.interrupted = recover_interrupted(pipeline)
    else:
        found.interrupted = [f"{e['name']}: its write into study {e['study_instance_uid']} was interrupted."
                             for e in store.interrupted_writes()]  # fmt: skip
    log = _read_log(store)
    found.events = log.entries
    before = _tallies(store)
    counted = _read_studies(store, log, found, now=now)
    _compare_tallies(store, before, counted, found)
    _leave_in_flight(store, found)
    if repair and (found.tallies or found.unlogged):
        for key, _kept, (count, latest) in found.tallies:
            if not store.set_tally(key, count, latest, expected=store.tally(key)):
                found.busy.append(f"tally {key[0]} {key[1] or '(no station)'} moved while it was repaired")
        log_missing(store, found.unlogged, after=log.last)
    return found


def _read_log(store: Store) -> _Log:
    """Read the event log once, in slices of seq."""
    log = _Log()
    for entry in store.events_from(0, fields=("type", "sha256", "study_instance_uid", "outcome")):
        log.entries += 1
        log.last = entry["seq"]
        kind, sha = entry.get("type"), entry.get("sha256")
        if kind in STORED and sha:
            log.stored.add(sha)
        elif kind == "received" and sha:
            log.received.add(sha)
        elif kind == "demo" and entry.get("outcome") == "created":
            log.demo.add(entry.get("study_instance_uid"))
    return log


def _read_studies(store: Store, log: _Log, found: Findings, *, now: datetime) -> dict[Key, tuple[int, Any]]:
    """Read every study in slices: count the tallies, find reports unlogged and originals lost."""
    counted: dict[Key, tuple[int, Any]] = {}

    def read(window: dict[str, Any], seconds: float | None) -> list[dict[str, Any]]:
        return store.study_keys(window, [], STUDY_FIELDS, seconds=seconds)

    for studies in windowed(None, None, now=now, read=read, undated=True):
        found.studies += len(studies)
        for key, (count, latest) in tally_documents(studies).items():
            had, when = counted.get(key, (0, None))
            counted[key] = (had + count, max((d for d in (when, latest) if d is not None), default=None))
        received = [doc for doc in studies if doc["study_instance_uid"] not in log.demo]
        kept = store.kept_originals([r["sha256"] for doc in received for r in doc.get("reports") or []])
        for doc in received:
            for report in doc.get("reports") or []:
                _report(doc, report, log, kept, found)
        found.reports += sum(len(doc.get("reports") or []) for doc in studies)
    return counted


def _report(doc: dict[str, Any], report: dict[str, Any], log: _Log, kept: set[str], found: Findings) -> None:
    """Note what is wrong with one stored report: its event-log entry, its original."""
    sha, uid = report["sha256"], doc["study_instance_uid"]
    if sha not in kept:
        found.lost.append((uid, sha))
    if sha in log.stored:
        return
    found.unlogged.append(
        {
            "name": report.get("sop_instance_uid") or sha,
            "sha256": sha,
            "study_instance_uid": uid,
            "sop_instance_uid": report.get("sop_instance_uid"),
            "via": report.get("via"),
            "client": "",
            "outcome": "created" if report.get("received_at") == doc.get("created_at") else "merged",
            "received_logged": sha in log.received,
        }
    )


def _tallies(store: Store) -> dict[Key, tuple[int, Any]]:
    return {(t["modality"], t["station_name"]): (t["count"], t.get("latest")) for t in store.all_tallies()}


def _compare_tallies(
    store: Store, before: dict[Key, tuple[int, Any]], counted: dict[Key, tuple[int, Any]], found: Findings
) -> None:
    """Note each tally whose count is not the studies'; one that moved while counting is busy."""
    after = _tallies(store)
    for key in sorted({*before, *after, *counted}, key=str):
        kept, right = after.get(key, (0, None)), counted.get(key, (0, None))
        if before.get(key, (0, None))[0] != kept[0]:
            found.busy.append(f"tally {key[0]} {key[1] or '(no station)'} moved while the studies were counted")
        elif kept[0] != right[0]:
            found.tallies.append((key, kept, right))


def _leave_in_flight(store: Store, found: Findings) -> None:
    """Leave alone what writes in flight (noted in the journal) will finish themselves."""
    flight = store.writes_in_flight()
    shas = {entry["sha256"] for entry in flight}
    keys = {(key[0], key[1]) for entry in flight for key in entry.get("tallies", [])}
    found.busy += [f"{item['name']} is being written" for item in found.unlogged if item["sha256"] in shas]
    found.unlogged = [item for item in found.unlogged if item["sha256"] not in shas]
    found.busy += [f"tally {key[0]} {key[1] or '(no station)'} is being moved" for key, _, _ in found.tallies
                   if key in keys]  # fmt: skip
    found.tallies = [fix for fix in found.tallies if fix[0] not in keys]
