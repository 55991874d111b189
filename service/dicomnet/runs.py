"""Query/retrieve runs: find a node's studies, pick their dose objects, fetch what DoseLedger lacks, keep score.

A run (:func:`new_run`, then :meth:`Runner.execute`) first asks the node for the
studies of its criteria (study-level C-FIND) and stores one record per study
(:mod:`service.dicomnet.progress`); then, study by study on an association of its
own, it asks for the series and instances, picks the dose objects
(:func:`service.dicomnet.selection.plan`), leaves out those DoseLedger holds, and
retrieves the rest by C-MOVE to DoseLedger's Storage SCP or by C-GET. Every
object goes through :mod:`service.ingest` with ``via: dicom`` and the node and
run in the event log's ``details.pacs``.

A failure of the node (association refused, a timeout, a retrieve whose objects
did not all arrive) or of DoseLedger's database fails that study only: it is
reported in the run and the event log, and the next run fetches it, since it is
still incomplete. While the database is away the run goes on with its record in
memory and writes it once it can. The run stops between requests when it is
cancelled (``cancel_requested`` in its record, or ``Runner.stop.cancel``), sending
C-CANCEL to a retrieve under way. ``Runner.stop.interrupt`` (the process stops)
leaves it ``running`` with its lease given up, for another process, or this one
restarted, to resume (:mod:`service.dicomnet.schedule`): studies done are not
fetched again, and objects of an interrupted study that arrived are known.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND

from service.config import Settings
from service.dicomnet.association import associate
from service.dicomnet.fetch import Fetcher, Stop
from service.dicomnet.nodes import Node
from service.dicomnet.progress import StudyRecord, add_to_counts, count_all, empty_counts
from service.dicomnet.query import find_studies
from service.dicomnet.selection import Criteria, description_refusal
from service.errors import DatabaseUnavailable, DoseLedgerError, PacsError
from service.ingest.pipeline import Pipeline
from service.storage import Store, utcnow

log = logging.getLogger(__name__)

#: how long a run's owner holds it without renewing; after that another process may resume it
LEASE = timedelta(seconds=60)
RENEW_EVERY = 15.0
#: at most this often a run writes its counts while it works (the page and API show them)
COUNTS_EVERY = 1.0


def owner_id() -> str:
    """Return the name of this process as a run's owner: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def new_run(
    store: Store,
    node: Node,
    criteria: Criteria,
    *,
    trigger: str,
    client: str,
    owner: str,
    schedule_key: str | None = None,
) -> dict[str, Any]:
    """Store a queued run of ``node`` for ``criteria`` and return it; raise Conflict if the node has one under way."""
    now = utcnow()
    run: dict[str, Any] = {
        "node": node.name,
        "criteria": criteria.as_document(),
        "trigger": trigger,
        "client": client,
        "status": "queued",
        "message": "",
        "created_at": now,
        "started_at": None,
        "finished_at": None,
        "queried": False,
        "counts": empty_counts(),
        "cancel_requested": False,
        "active_node": node.name,
        "owner": owner,
        "lease_until": now + LEASE,
    }
    if schedule_key is not None:
        run["schedule_key"] = schedule_key
    return store.get_run(store.insert_run(run))


class Runner:
    """Execute one run (new or resumed) in the calling thread."""

    def __init__(
        self,
        pipeline: Pipeline,
        settings: Settings,
        run: dict[str, Any],
        *,
        owner: str,
        on_study: Callable[[StudyRecord, dict[str, Any]], None] | None = None,
    ) -> None:
        self.pipeline, self.store, self.settings = pipeline, pipeline.store, settings
        self.run = run
        self.run_id: str = run["_id"]
        self.owner = owner
        self.node = Node.from_document(self.store.pacs_node(run["node"]))
        self.criteria = Criteria.from_document(run["criteria"])
        self.counts: dict[str, Any] = run.get("counts") or empty_counts()
        self.on_study = on_study
        #: ``stop.cancel.set()`` ends the run cancelled; ``stop.interrupt.set()`` leaves it to be resumed
        self.stop = Stop(self.store, self.run_id)
        self.fetcher = Fetcher(pipeline, settings, self.node, self.criteria, self.run_id, self.stop)
        self._unsaved: dict[str, StudyRecord] = {}
        self._next_counts = 0.0

    def execute(self) -> dict[str, Any]:
        """Run to the end (or until stopped) and return the run's record as this process knows it."""
        with self._lease_kept():
            self._save("start", self._start)
            try:
                records = self._records()
            except DoseLedgerError as e:
                log.warning("Run %s of %s failed: %s", self.run_id, self.node.address, e)
                return self._end("failed", str(e))
            try:
                for record in records:
                    if record.status == "pending" and not self.stop.requested(now=True):
                        self._take(record)
            finally:
                self.fetcher.close()
            return self._end(*self._outcome())

    # -- the studies ------------------------------------------------------------------

    def _records(self) -> list[StudyRecord]:
        """Return the run's study records: from the query, or, resuming, as stored."""
        if self.run.get("queried"):
            records = [StudyRecord.from_document(d) for d in self.store.run_studies(self.run_id)]
        else:
            records = self._query()
        self.counts = count_all(records)
        self._save("counts", lambda: self.store.update_run(self.run_id, self.owner, {"counts": self.counts}))
        return records

    def _query(self) -> list[StudyRecord]:
        """Ask the node for the criteria's studies, record them, and exclude those the description filters refuse."""
        with associate(self.node, self.fetcher.ae_title, self.settings.pacs_timeout, [(FIND, ())]) as assoc:
            found = find_studies(assoc, self.node, self.criteria)
        records = [StudyRecord.found(study, position) for position, study in enumerate(found)]
        for record, study in zip(records, found, strict=True):
            if (why := description_refusal(self.criteria, study)) is not None:
                record.end("excluded", f"Not fetched: {why}.")
        documents = [record.as_document(self.run_id) for record in records]

        def store_records() -> None:
            nonlocal records
            self.store.add_run_studies(documents)
            # a resumed query keeps what its studies became
            records = [StudyRecord.from_document(d) for d in self.store.run_studies(self.run_id)]

        if self._save("studies", store_records):
            self._save("query", lambda: self.store.update_run(self.run_id, self.owner, {"queried": True}))
        log.info("Run %s: %s lists %d studies", self.run_id, self.node.address, len(records))
        return records

    def _take(self, record: StudyRecord) -> None:
        """Fetch one study; a failure of the node or of the database fails this study only."""
        try:
            self.fetcher.fetch(record)
        except PacsError as e:
            record.end("failed", str(e))
        except DatabaseUnavailable as e:
            record.end("failed", f"DoseLedger's database is unavailable ({e}); the next run fetches this study.")
        if record.status == "pending":  # interrupted: left for the run that resumes
            return
        add_to_counts(self.counts, record)
        self._save_study(record)
        if record.status == "failed":
            self._report_failure(record)
        if self.on_study is not None:
            self.on_study(record, self.counts)

    def _start(self) -> None:
        """Mark the run running, and forget the C-MOVEs of processes that died."""
        now = utcnow()
        started = {"status": "running", "started_at": self.run.get("started_at") or now, "updated_at": now}
        self.store.update_run(self.run_id, self.owner, started)
        self.store.forget_stale_moves()

    def _outcome(self) -> tuple[str, str]:
        """Return the final state of a run that went through its studies (or was stopped)."""
        studies = self.counts["studies"]
        if self.stop.interrupted:
            return "running", "Interrupted; it resumes where it stopped."
        if self.stop.cancelled:
            return "cancelled", f"Cancelled with {studies['pending']} studies not yet fetched."
        summary = ", ".join(f"{studies[name]} {name}" for name in ("fetched", "skipped", "excluded", "failed"))
        if studies["failed"]:
            return "incomplete", f"{studies['found']} studies: {summary}. The next run retries the failed ones."
        return "completed", f"{studies['found']} studies: {summary}."

    def _end(self, status: str, message: str) -> dict[str, Any]:
        """Write the run's final record (or, interrupted, give up its lease) and log it."""
        for record in list(self._unsaved.values()):
            self._save_study(record)
        now = utcnow()
        fields = {"status": status, "message": message, "counts": self.counts, "updated_at": now}
        if status == "running":
            release = {"lease_until": now, "counts": self.counts}
            self._save("release", lambda: self.store.update_run(self.run_id, self.owner, release))
        else:
            fields["finished_at"] = now
            self._save("end", lambda: self.store.finish_run(self.run_id, self.owner, fields))
            self._log_event("pacs-run", status, message, details={"counts": self.counts})
        log.info("Run %s of %s: %s. %s", self.run_id, self.node.address, status, message)
        self.run = {**self.run, **fields}
        return self.run

    def _save_study(self, record: StudyRecord) -> None:
        """Write one study's record and the run's counts; keep them for later while the database is away."""
        self._unsaved[record.uid] = record

        def write() -> None:
            self.store.save_run_study(self.run_id, record.uid, record.progress())
            del self._unsaved[record.uid]
            if time.monotonic() >= self._next_counts:  # the run's counts at most once a second, and at its end
                self.store.update_run(self.run_id, self.owner, {"counts": self.counts, "updated_at": utcnow()})
                self._next_counts = time.monotonic() + COUNTS_EVERY

        self._save(f"study {record.uid}", write)

    def _save(self, what: str, write: Callable[[], object]) -> bool:
        """Write to the run's record; tell whether it was written (the database may be away)."""
        try:
            write()
        except DatabaseUnavailable as e:
            log.warning(
                "Run %s: its record (%s) was not written, the database is unavailable: %s", self.run_id, what, e
            )
            return False
        return True

    def _report_failure(self, record: StudyRecord) -> None:
        """Log a failed study, in the service log and (when the database answers) the event log."""
        log.warning("Run %s: study %s failed: %s", self.run_id, record.uid, record.message)
        self._log_event("pacs-retrieve", "failed", record.message, study_instance_uid=record.uid)

    def _log_event(self, type: str, outcome: str, message: str, **fields: Any) -> None:
        with contextlib.suppress(DatabaseUnavailable):
            details = {**fields.pop("details", {}), "pacs": {"node": self.node.name, "run": self.run_id}}
            self.store.append_event(
                type, via="dicom", client=self.node.client, outcome=outcome, message=message, details=details, **fields
            )

    @contextlib.contextmanager
    def _lease_kept(self) -> Iterator[None]:
        """Renew the run's lease in the background while it runs; note when another process took it over."""
        done = threading.Event()

        def renew() -> None:
            while not done.wait(RENEW_EVERY):
                with contextlib.suppress(DatabaseUnavailable):
                    if not self.store.renew_lease(self.run_id, self.owner, utcnow() + LEASE):
                        self.stop.interrupt.set()
                        log.warning("Run %s was taken over by another process; this one stops.", self.run_id)

        keeper = threading.Thread(target=renew, name=f"lease-{self.run_id}", daemon=True)
        keeper.start()
        try:
            yield
        finally:
            done.set()
            keeper.join()
