"""Finish the study writes a stopped process left half done (the journal, :mod:`service.storage.journal`).

For each interrupted write:

- **the study holds the report**: the study was written, and maybe not its
  tallies nor its event-log entries. The tallies it moves are counted again
  from the studies (:func:`recount_tallies`), and the ``received`` and
  ``created``/``merged`` entries written if the log lacks them (marked
  ``details.recovered``).
- **the study does not hold it**: nothing of the write happened but the
  original, which is kept before it: the object is taken in again from its
  kept bytes, as on arrival (:meth:`service.ingest.pipeline.Pipeline.resume`).

Then the journal entry goes. :func:`recover_interrupted` runs when ``doseledger
serve``, ``scp`` and ``import`` start, and in ``doseledger check``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from service.errors import NotFound
from service.ingest.arrival import RECOVERED
from service.modalities import MODALITIES
from service.reading.slices import windowed
from service.storage import Store, event_entry
from service.storage.journal import STALE_AFTER
from service.storage.tallies import Key

if TYPE_CHECKING:
    from service.ingest.pipeline import Pipeline

#: attempts at setting a tally that other writes keep moving, and the pause between them
TALLY_ATTEMPTS, TALLY_PAUSE = 5, 0.2


def recover_interrupted(pipeline: Pipeline, *, older_than: float = STALE_AFTER) -> list[str]:
    """Finish every interrupted write (see the module); return what was done, one sentence each."""
    done = []
    for entry in pipeline.store.interrupted_writes(older_than=older_than):
        done.append(_finish(pipeline, entry))
        pipeline.store.forget_writes([entry["_id"]])
    return done


def _finish(pipeline: Pipeline, entry: dict[str, Any]) -> str:
    """Finish one interrupted write; return what was done."""
    store, name, study = pipeline.store, entry["name"], entry["study_instance_uid"]
    if not store.report_stored(study, entry["sop_instance_uid"], entry["sha256"]):
        try:
            original = store.read_kept(entry["sha256"])
        except NotFound:
            return f"{name}: its write into study {study} was interrupted and its original is not kept; send it again."
        outcome = pipeline.resume(original)
        return f"{name}: its write was interrupted before study {study} was written; taken in again: {outcome.message}"
    logged = log_missing(store, [entry], after=entry.get("seq", 0))
    unsettled = recount_tallies(store, [tuple(key) for key in entry.get("tallies", [])])
    said = "its event-log entries written" if logged else "its event-log entries were there"
    tallies = f"; tallies still moving, not recounted: {_names(unsettled)}" if unsettled else "; tallies recounted"
    return f"{name}: its write into study {study} was interrupted after the study was written; {said}{tallies}."


def log_missing(store: Store, objects: list[dict[str, Any]], *, after: int) -> int:
    """Write the outcome of each object the event log lacks (seq > ``after``), and ``received``; return how many.

    ``received`` is not written again for an object whose ``received_logged`` says it is in the log already.
    """
    logged = {(e.get("type"), e.get("sha256")) for e in store.events_from(after, fields=("type", "sha256"))}
    entries = []
    for item in objects:
        sha = item["sha256"]
        if ("created", sha) in logged or ("merged", sha) in logged:
            continue
        if ("received", sha) not in logged and not item.get("received_logged"):
            entries.append(_entry("received", item, f"{item['name']}: received (recorded after an interruption)."))
        verb = "created study" if item["outcome"] == "created" else "was merged into study"
        message = f"{item['name']} {verb} {item['study_instance_uid']} (recorded after an interruption)."
        entries.append(_entry(item["outcome"], item, message))
    store.append_events(entries)
    return sum(1 for entry in entries if entry["type"] != "received")


def _entry(kind: str, item: dict[str, Any], message: str) -> dict[str, Any]:
    """Return a recovered event-log entry of one object."""
    study = None if kind == "received" else item["study_instance_uid"]
    sop = None if kind == "received" else item["sop_instance_uid"]
    return event_entry(
        kind,
        via=item.get("via") or "",
        client=item.get("client") or "",
        name=item["name"],
        study_instance_uid=study,
        sop_instance_uid=sop,
        sha256=item["sha256"],
        outcome=None if kind == "received" else kind,
        message=message,
        details=RECOVERED,
    )


def recount_tallies(store: Store, keys: Iterable[Key], *, now: datetime | None = None) -> list[Key]:
    """Set each tally of ``keys`` to what the studies say; return those that other writes kept moving."""
    unsettled = []
    for key in sorted(set(keys), key=str):
        if not any(_settle(store, key, now=now or datetime.now()) for _ in range(TALLY_ATTEMPTS)):
            unsettled.append(key)
    return unsettled


def _settle(store: Store, key: Key, *, now: datetime) -> bool:
    """Count one tally from the studies and set it, unless a write moved it meanwhile; tell whether it is set."""
    before = store.tally(key)
    if any(key in _keys(entry) for entry in store.writes_in_flight()):
        time.sleep(TALLY_PAUSE)  # a write in flight: its tally moves after its study
        return False
    count, latest = count_studies(store, key, now=now)
    if store.set_tally(key, count, latest, expected=before):
        return True
    time.sleep(TALLY_PAUSE)
    return False


def count_studies(store: Store, key: Key, *, now: datetime) -> tuple[int, datetime | None]:
    """Return the number of studies in tally ``key`` and the latest study date-time, read in slices."""
    condition = {"modalities": MODALITIES[key[0]].stored, "equipment.station_name": key[1]}

    def read(window: dict[str, Any], seconds: float | None) -> list[dict[str, Any]]:
        return store.study_keys(window, [condition], {"study_date_time": 1}, seconds=seconds)

    dates = [k.get("study_date_time") for w in windowed(None, None, now=now, read=read, undated=True) for k in w]
    return len(dates), max((d for d in dates if d is not None), default=None)


def _keys(entry: dict[str, Any]) -> set[Key]:
    return {(key[0], key[1]) for key in entry.get("tallies", [])}


def _names(keys: list[Key]) -> str:
    return ", ".join(f"{modality} {station or '(no station)'}" for modality, station in keys)
