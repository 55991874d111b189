"""Fetch one study of a run: its series and instances (C-FIND), its dose objects, and the retrieve of those lacking.

On one association of its own per study (so that a failure ends that study
only): a series-level C-FIND, the station filters, an instance-level C-FIND of
each series that may hold dose objects, the choice of
:func:`service.dicomnet.selection.plan`, the objects DoseLedger holds left out
(:meth:`~service.storage.pacs.PacsStore.known_sop_instance_uids`), then one
retrieve per series. C-MOVE registers its message ID in the store, where the
SCP records what became of each object it sent; C-GET ingests the objects on
this association, with the same :func:`~service.ingest.batch.ingest_source` as
every other arrival.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from typing import Any

from pynetdicom import evt
from pynetdicom.association import Association

from service.config import Settings
from service.dicomnet.association import open_association
from service.dicomnet.nodes import Node
from service.dicomnet.progress import StudyRecord
from service.dicomnet.query import find_instances, find_series
from service.dicomnet.retrieve import Request, Retrieved, get, get_contexts, get_roles, move, move_contexts
from service.dicomnet.scp import receive_safely, status_key
from service.dicomnet.selection import Criteria, Pick, candidate_kind, plan, station_refusal
from service.dicomnet.status import STORE_STATUS
from service.errors import DatabaseUnavailable
from service.ingest.batch import ingest_source
from service.ingest.pipeline import Pipeline
from service.ingest.sources import Source
from service.storage import Store

#: at most this often a run reads its record to see whether it was cancelled
CANCEL_CHECK_EVERY = 1.0

#: what became of one object: {"sop_instance_uid", "outcome", "code"}
Arrival = dict[str, Any]


class Stop:
    """When a run stops: cancelled (here, or in its record), or interrupted (its process stops, its lease is lost)."""

    def __init__(self, store: Store, run_id: str) -> None:
        self._store, self._run_id = store, run_id
        #: set to stop between requests and end the run ``cancelled``
        self.cancel = threading.Event()
        #: set to stop between requests and leave the run for another process to resume
        self.interrupt = threading.Event()
        self._next_check = 0.0

    @property
    def cancelled(self) -> bool:
        """Tell whether the run was cancelled."""
        return self.cancel.is_set()

    @property
    def interrupted(self) -> bool:
        """Tell whether the run must stop and be resumed later."""
        return self.interrupt.is_set()

    def requested(self, *, now: bool = False) -> bool:
        """Tell whether to stop; read the run's record for a cancellation at most once a second (``now``: at once)."""
        if self.cancel.is_set() or self.interrupt.is_set():
            return True
        if now or time.monotonic() >= self._next_check:
            self._next_check = time.monotonic() + CANCEL_CHECK_EVERY
            with contextlib.suppress(DatabaseUnavailable):
                if self._store.cancel_requested(self._run_id):
                    self.cancel.set()
        return self.cancel.is_set()


class Fetcher:
    """Fetch the studies of one run from its node."""

    def __init__(
        self, pipeline: Pipeline, settings: Settings, node: Node, criteria: Criteria, run_id: str, stop: Stop
    ) -> None:
        self.pipeline, self.store, self.settings = pipeline, pipeline.store, settings
        self.node, self.criteria, self.run_id, self.stop = node, criteria, run_id, stop
        self._origin = {"node": node.name, "run": run_id}
        self._message_ids = itertools.count(1)
        self._assoc: Association | None = None
        #: what became of the objects of the retrieve under way (C-GET)
        self._arrived: list[Arrival] = []

    @property
    def ae_title(self) -> str:
        """Return DoseLedger's AE title, which calls the node and is its C-MOVE destination by default."""
        return self.settings.scp_ae_title

    def fetch(self, record: StudyRecord) -> None:
        """Find the study's dose objects and retrieve those DoseLedger lacks.

        The association of the previous study is used again while it lasts; one
        that failed is aborted, so that the next study starts on a new one.
        """
        try:
            self._fetch(record, self._association())
        except BaseException:
            self.close(abort=True)
            raise

    def _fetch(self, record: StudyRecord, assoc: Association) -> None:
        series = find_series(assoc, self.node, record.uid)
        record.stations = tuple(sorted({item.station for item in series if item.station}))
        if (why := station_refusal(self.criteria, series)) is not None:
            return record.end("excluded", f"Not fetched: {why}.")
        candidates = [(item, kind) for item in series if (kind := candidate_kind(item, self.criteria.modalities))]
        picks = plan(
            [(item, kind, find_instances(assoc, self.node, record.uid, item.uid)) for item, kind in candidates]
        )
        known = self.store.known_sop_instance_uids(record.uid, sorted({u for p in picks for u in p.listed}))
        todo = [(pick, pick.still_wanted(known)) for pick in picks]
        record.series = len(picks)
        record.objects["requested"] = sum(len(wanted) for _, wanted in todo)
        record.objects["skipped"] = sum(len(pick.wanted) for pick in picks) - record.objects["requested"]
        if not record.objects["requested"]:
            return record.end("skipped", _nothing_to_fetch(picks, record.objects["skipped"]))
        self._retrieve_all(assoc, record, todo)

    def _retrieve_all(self, assoc: Association, record: StudyRecord, todo: list[tuple[Pick, tuple[str, ...]]]) -> None:
        """Retrieve each series' wanted objects, then say what became of the study."""
        problems: list[str] = []
        for pick, wanted in todo:
            if wanted and self.stop.requested():
                break
            if wanted:
                problems += self._retrieve(assoc, record, pick, wanted)
        if self.stop.interrupted:
            return  # stays pending
        objects = record.objects
        if self.stop.cancelled:
            record.end("cancelled", f"Cancelled: {objects['received']} of {_objects(objects['requested'])} arrived.")
        elif problems:
            record.end("failed", "; ".join(problems) + ". The next run fetches what is missing.")
        else:
            refused = f", {objects['rejected']} of them refused by ingest (kept)" if objects["rejected"] else ""
            record.end("fetched", f"{_objects(objects['received'])} received{refused}.")

    def _retrieve(self, assoc: Association, record: StudyRecord, pick: Pick, wanted: tuple[str, ...]) -> list[str]:
        """Retrieve one series' wanted objects; return what went wrong."""
        whole = set(wanted) == set(pick.listed)
        request = Request(record.uid, pick.series.uid, () if whole else wanted)
        if self.node.retrieve == "get":
            self._arrived.clear()
            answer = get(assoc, request, msg_id=next(self._message_ids), should_stop=self.stop.requested)
            return self._tally(record, pick, wanted, answer, list(self._arrived))
        message_id = self.store.start_move(
            calling_ae_title=self.ae_title,
            node_ae_title=self.node.ae_title,
            run=self.run_id,
            node=self.node.name,
            study=record.uid,
        )
        try:
            destination = self.node.destination(self.ae_title)
            answer = move(assoc, request, destination, msg_id=message_id, should_stop=self.stop.requested)
        finally:
            arrivals = self.store.finish_move(message_id)
        return self._tally(record, pick, wanted, answer, arrivals)

    def _tally(
        self, record: StudyRecord, pick: Pick, wanted: tuple[str, ...], answer: Retrieved, arrivals: list[Arrival]
    ) -> list[str]:
        """Count what arrived of ``wanted`` and what ingest refused; return a problem when some did not arrive."""
        by_uid = {arrival["sop_instance_uid"]: arrival for arrival in arrivals}
        kept = [uid for uid in wanted if uid in by_uid and by_uid[uid]["code"] != "too-large"]
        rejected = [uid for uid in kept if by_uid[uid]["outcome"] == "rejected"]
        missing = len(wanted) - len(kept)
        record.objects["received"] += len(kept)
        record.objects["rejected"] += len(rejected)
        record.objects["failed"] += missing
        record.rejected_uids += rejected
        if not missing or answer.cancelled:
            return []
        too_large = sum(1 for uid in wanted if by_uid.get(uid, {}).get("code") == "too-large")
        large = f", {too_large} larger than DOSELEDGER_MAX_UPLOAD_BYTES" if too_large else ""
        return [
            f"{missing} of {_objects(len(wanted))} of series {pick.series.uid} did not arrive{large} "
            f"({answer.describe(self.node)})"
        ]

    def _association(self) -> Association:
        """Return the run's association with the node, opening one when there is none (or it ended).

        C-FIND and C-MOVE, or C-FIND and C-GET with the storage contexts and a
        C-STORE handler that ingests into the current study's arrivals.
        """
        if self._assoc is not None and self._assoc.is_established:
            return self._assoc
        timeout = self.settings.pacs_timeout
        if self.node.retrieve != "get":
            self._assoc = open_association(self.node, self.ae_title, timeout, move_contexts())
            return self._assoc

        def on_store(event: evt.Event) -> int:
            receive = lambda source: self._ingest(source, self._arrived)  # noqa: E731
            return STORE_STATUS[receive_safely(receive, event, self.node.client)]

        handlers = [(evt.EVT_C_STORE, on_store)]
        self._assoc = open_association(
            self.node, self.ae_title, timeout, get_contexts(), roles=get_roles(), handlers=handlers
        )
        return self._assoc

    def close(self, *, abort: bool = False) -> None:
        """Release the run's association (abort it after a failure)."""
        assoc, self._assoc = self._assoc, None
        if assoc is None or not assoc.is_established:
            return
        if abort:
            assoc.abort()
        else:
            assoc.release()

    def _ingest(self, source: Source, arrived: list[Arrival]) -> str:
        """Ingest one object a C-GET sent back, and note what became of it."""
        outcome = ingest_source(self.pipeline, source, via="dicom", client=self.node.client, origin=self._origin)
        arrived.append({"sop_instance_uid": source.name, "outcome": outcome.outcome, "code": outcome.code})
        return status_key(outcome)


def _nothing_to_fetch(picks: list[Pick], known: int) -> str:
    """Say why a study needed nothing."""
    if not picks:
        return (
            "The PACS lists no dose objects in this study (dose SR or screen, or images of the modalities asked for)."
        )
    return f"DoseLedger holds every dose object the PACS lists ({known})."


def _objects(count: int) -> str:
    """Say how many objects: ``1 object``, ``2 objects``."""
    return f"{count} object{'' if count == 1 else 's'}"
