"""One pipeline for every way in (HTTP, CLI, DICOM network): bytes -> outcome.

Steps for each object: hash; check the size; parse strictly; remove the
patient's identity (:mod:`service.ingest.deidentify`, which keeps the patient
key and what else the document derives from it in a private block); keep the
original (pixel data removed from images, the hash is of the bytes received);
extract from the object as kept; merge and write; log ``received`` and the
outcome. Bytes that do not parse as DICOM cannot be de-identified and are kept
as received. Errors are per object: a
rejected object is logged with the reason, its bytes are kept, the caller gets
an :class:`Outcome` and the next object goes on.

The two event-log entries of an object are written together at the end, in one
insert (one round trip instead of two), usually with consecutive ``seq``s, so
their ``at`` is when the object was done, not when it arrived (the arrival time
is the original's ``received_at`` and the study report's). A process that dies
in the middle of an object loses nothing: the original, with its name, way in,
client and ``received_at``, is kept in GridFS before extraction, and the study
write is noted in the journal (:mod:`service.storage.journal`) before it
begins, its note deleted once the entries are written; a note left behind is
finished at the next start of ``serve``, ``scp`` or ``import``, or by
``doseledger check`` (:mod:`service.ingest.recovery`: the tallies counted again
and the entries written, or the object taken in again from its kept bytes).
One that dies before the write began left only the original, which ``doseledger
reprocess`` takes in. An unexpected failure that the process survives (the
database gone, a study too hot to write) still logs ``received`` alone, as far
as the database lets, before the error goes up.

One exception to "keep the bytes": an object over ``DOSELEDGER_MAX_UPLOAD_BYTES``
is refused before it is read (the limit protects the store), so only the
refusal is logged. The sender was told (HTTP 413, CLI summary) and still holds it.
And a bound: bytes that cannot be read as a DICOM data set at all (not DICOM,
corrupt, a damaged zip member, a deflated object inflating past the limit) are
kept only up to ``DOSELEDGER_KEEP_NOT_DICOM_BYTES`` (default 1 MiB), with the
SHA-256 and length of the whole: a modality means to send DICOM, and its first
megabyte shows what arrived, while ten 60 MB members of zeros in a 612 KB zip
no longer cost the database 2.5 GB. A DICOM object that is rejected is kept
whole, pixel data removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

from pydicom.dataset import Dataset

from service import metrics
from service.access.patient_key import PatientKeys, site_keys
from service.alerts.records import raise_alerts
from service.config import DEFAULT_KEEP_NOT_DICOM_BYTES, Settings
from service.errors import DatabaseUnavailable, InvalidDoseReport, NotDicom, RejectedObject, TooLarge
from service.extract import extract
from service.ingest.arrival import (
    LAST_WORD,
    OUTCOMES,
    RECOVERED,
    RECOVERED_NOTE,
    Arrival,
    Outcome,
    Prepared,
    Result,
    identity,
    noted,
    origin_details,
    size_text,
    with_name,
)
from service.ingest.deidentify import prepare
from service.ingest.dicomfile import bytes_to_keep, read_dataset
from service.ingest.document import save_fragment, stamp
from service.storage import Original, Store, deadline, event_entry, utcnow

#: what other modules import from here
__all__ = ["OUTCOMES", "Arrival", "Outcome", "Pipeline", "Prepared", "Result"]


log = logging.getLogger(__name__)


class Pipeline:
    """Ingest objects into one store with one configuration."""

    def __init__(
        self,
        store: Store,
        *,
        max_bytes: int,
        not_patient_patterns: Sequence[str],
        patient_keys: PatientKeys | None = None,
        alerts: bool = True,
        keep_not_dicom_bytes: int = DEFAULT_KEEP_NOT_DICOM_BYTES,
    ) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.not_patient_patterns = tuple(not_patient_patterns)
        #: None: studies get no patient key
        self.patient_keys = patient_keys
        #: evaluate the alert rules on every study written (bench/import_rate.py measures it off too)
        self.alerts = alerts
        self.keep_not_dicom_bytes = keep_not_dicom_bytes

    @classmethod
    def from_settings(cls, store: Store, settings: Settings) -> Pipeline:
        """Build a pipeline configured by ``settings``, with the site's patient keys (generating the secret once)."""
        return cls(
            store,
            max_bytes=settings.max_upload_bytes,
            not_patient_patterns=settings.not_patient_patterns,
            patient_keys=site_keys(store, settings),
            keep_not_dicom_bytes=settings.keep_not_dicom_bytes,
        )

    def ingest(self, data: bytes, *, name: str, via: str, client: str, origin: dict[str, Any] | None = None) -> Outcome:
        """Take one object in and return what happened to it (``origin``: the PACS run that asked for it).

        Counted in :mod:`service.metrics`.
        """
        started = time.perf_counter()
        arrival = self.arrival(data, name=name, via=via, client=client, origin=origin)
        try:
            outcome = self._take_and_log(data, arrival)
        except Exception:
            metrics.count_object(via, "failed", None)
            raise
        metrics.count_object(via, outcome.outcome, time.perf_counter() - started)
        return outcome

    @staticmethod
    def arrival(data: bytes, *, name: str, via: str, client: str, origin: dict[str, Any] | None = None) -> Arrival:
        """Note an object's arrival: its name, way in, sender, SHA-256, time and size."""
        return Arrival(name, via, client, hashlib.sha256(data).hexdigest(), utcnow(), len(data), origin)

    def _take_and_log(self, data: bytes, arrival: Arrival) -> Outcome:
        """Take one object in and log it (``received`` alone when taking it failed unexpectedly)."""
        try:
            outcome, entries = self._take(data, arrival)
        except Exception:
            self.log_received_alone(arrival)
            raise
        return self._done(arrival, outcome, [self.received_entry(arrival), *entries])

    def resume(self, original: Original) -> Outcome:
        """Take in again a kept original whose write stopped before its study (service.ingest.recovery)."""
        arrival = Arrival(original.name, original.via, original.client, original.sha256, original.received_at,
                          recovered=True)  # fmt: skip
        outcome, entries = self._redo(original, arrival, reprocess=False)
        return self._done(arrival, outcome, [self.received_entry(arrival), *entries])

    def _done(self, arrival: Arrival, outcome: Outcome, entries: list[dict[str, Any]]) -> Outcome:
        """Log an object's entries, then forget the journal's note of its write: every part of it is done."""
        self.store.append_events(entries)
        if outcome.outcome in ("created", "merged"):
            self.store.forget_writes([arrival.journal])
        return outcome

    def refuse_too_large(
        self,
        size: int | None,
        *,
        name: str,
        via: str,
        client: str,
        reason: str | None = None,
        origin: dict[str, Any] | None = None,
    ) -> Outcome:
        """Log and report an object refused for its size (None: unknown, past the limit) before it was read."""
        arrival = Arrival(name, via, client, None, utcnow(), size, origin)
        outcome, entries = self._reject(arrival, TooLarge(reason) if reason else self._too_large(name, size))
        self.store.append_events([self.received_entry(arrival), *entries])
        metrics.count_object(via, outcome.outcome, None)
        return outcome

    def refuse_unreadable(
        self, data: bytes, reason: str, *, name: str, via: str, client: str, origin: dict[str, Any] | None = None
    ) -> Outcome:
        """Keep, log and report an object of which only ``data`` could be read (a damaged zip member)."""
        arrival = Arrival(name, via, client, hashlib.sha256(data).hexdigest(), utcnow(), len(data), origin)
        outcome, entries = self._reject(arrival, NotDicom(reason), note=self._keep_unreadable(arrival, data))
        self.store.append_events([self.received_entry(arrival), *entries])
        metrics.count_object(via, outcome.outcome, None)
        return outcome

    def _take(self, data: bytes, arrival: Arrival) -> Result:
        """Check, keep, extract and save one object; return what happened and its event-log entries."""
        item = self.prepare(data, arrival)
        if not isinstance(item, Prepared):
            return item
        try:
            journal = noted(arrival, item.fragment)
            result = save_fragment(self.store, item.fragment, now=arrival.received_at, journal=journal)
        except RejectedObject as e:
            return self.rejected(item, e)
        return self.accepted(item, result.outcome, result.document)

    def prepare(self, data: bytes, arrival: Arrival) -> Prepared | Result:
        """Check, keep and extract one object: what is ready to fold into its study, or its rejection."""
        if len(data) > self.max_bytes:
            return self._reject(arrival, self._too_large(arrival.name, len(data)))
        ds: Dataset | None = None
        try:
            ds = read_dataset(data, arrival.name, max_bytes=self.max_bytes)
            self._keep(arrival, *self._deidentified(ds, data, arrival.name), study_uid=identity(ds)[0])
            fragment = self._extract(ds, arrival.name)
        except RejectedObject as e:
            note = self._keep_unreadable(arrival, data) if ds is None else ""
            return self._reject(arrival, e, *identity(ds), note=note)
        return Prepared(arrival, ds, stamp(fragment, sha256=arrival.sha256, received_at=arrival.received_at,
                                           via=arrival.via))  # fmt: skip

    def accepted(self, item: Prepared, outcome: str, document: dict[str, Any], *, alerts: bool = True) -> Result:
        """Return what happened to a prepared object folded into ``document`` (its alerts with it, if ``alerts``)."""
        return self._accept(item.arrival, outcome, document, item.fragment["report"], alerts=alerts)

    def rejected(self, item: Prepared, error: RejectedObject) -> Result:
        """Return the rejection of a prepared object that its study could not take (an invalid document)."""
        return self._reject(item.arrival, error, *identity(item.ds))

    def _too_large(self, name: str, size: int | None) -> TooLarge:
        found = f"is {size} bytes, more" if size is not None else "was sent without its length and is more"
        return TooLarge(
            f"{name} {found} than the limit of {self.max_bytes} bytes (DOSELEDGER_MAX_UPLOAD_BYTES); it was not stored."
        )

    def _extract(self, ds: Dataset, name: str) -> dict[str, Any]:
        """Run extraction; an unexpected failure rejects this object only."""
        try:
            return extract(ds, not_patient_patterns=self.not_patient_patterns)
        except RejectedObject:
            raise
        except Exception as e:  # a fault of DoseLedger's reading, said in a sentence; the details go to the log
            log.exception("Extraction failed on %s", name)
            raise InvalidDoseReport(
                f"{name} could not be read as a dose report: its content is arranged in a way DoseLedger's "
                "extraction does not handle (the details are in the service log). It is kept, and "
                "`doseledger reprocess` will read it again once the extractor is fixed."
            ) from e

    def _deidentified(self, ds: Dataset, data: bytes, name: str) -> tuple[bytes, bool]:
        """Return the bytes to keep of an object received, without the patient's identity, and whether they are."""
        try:
            prepare(ds, self.patient_keys, self.not_patient_patterns, kept=False)
        except Exception as e:  # values are not logged: they may be the very identity
            log.warning(
                "Could not remove the patient's identity from %s (%s); kept as received.", name, type(e).__name__
            )
            return data, False
        kept = bytes_to_keep(ds)
        return (data, False) if kept is None else (kept, True)

    def _keep(
        self, arrival: Arrival, data: bytes, scrubbed: bool, study_uid: str | None = None, *, truncated: bool = False
    ) -> None:
        assert arrival.sha256 is not None and arrival.size is not None
        self.store.keep_original(
            arrival.sha256,
            data,
            name=arrival.name,
            via=arrival.via,
            client=arrival.client,
            received_at=arrival.received_at,
            size=arrival.size,
            study_instance_uid=study_uid,
            scrubbed=scrubbed,
            truncated=truncated,
        )

    def _keep_unreadable(self, arrival: Arrival, data: bytes) -> str:
        """Keep bytes that are no readable DICOM up to the configured bound; return what to add to the reason."""
        limit = self.keep_not_dicom_bytes
        self._keep(arrival, data[:limit], scrubbed=False, truncated=len(data) > limit)
        if len(data) <= limit:
            return ""
        return (
            f" Only its first {limit} bytes are kept (DOSELEDGER_KEEP_NOT_DICOM_BYTES), "
            f"with the SHA-256 and length of all {len(data)}."
        )

    def received_entry(self, arrival: Arrival) -> dict[str, Any]:
        """Return the ``received`` event-log entry of an object."""
        if arrival.recovered:
            message, details = f"{arrival.name}: received{RECOVERED_NOTE}.", RECOVERED
        else:
            message, details = f"{arrival.name}: {size_text(arrival.size)} received.", None
        return event_entry(
            "received",
            via=arrival.via,
            client=arrival.client,
            name=arrival.name,
            sha256=arrival.sha256,
            message=message,
            details=origin_details(arrival, details),
        )

    def log_received_alone(self, arrival: Arrival) -> None:
        """Log ``received`` for an object whose processing failed unexpectedly, as far as the database lets.

        Within :data:`LAST_WORD` seconds: when the failure was the database's
        deadline passing, the answer (503, ``0xA700``) must not wait another one.
        """
        with contextlib.suppress(DatabaseUnavailable), deadline(LAST_WORD):
            self.store.append_events([self.received_entry(arrival)])

    def _reject(
        self,
        arrival: Arrival,
        error: RejectedObject,
        study_uid: str | None = None,
        sop_uid: str | None = None,
        *,
        note: str = "",
    ) -> Result:
        message = with_name(arrival.name, str(error)) + note
        log.info("%s", message)
        entry = self._outcome_entry(arrival, "rejected", study_uid, sop_uid, message, code=error.code)
        return Outcome(arrival.name, "rejected", study_uid, sop_uid, message, error.code, arrival.sha256), [entry]

    def _accept(
        self, arrival: Arrival, outcome: str, document: dict[str, Any], report: dict[str, Any], *, alerts: bool = True
    ) -> Result:
        study_uid, sop_uid = document["study_instance_uid"], report.get("sop_instance_uid")
        message = {
            "created": f"{arrival.name} created study {study_uid}.",
            "merged": f"{arrival.name} was merged into study {study_uid}.",
            "duplicate": f"{arrival.name} is already part of study {study_uid}; nothing changed.",
        }[outcome]
        # What extraction repaired or converted (extract/lenient.py, extract/vendors.py, units.py)
        # is said here and nowhere else.
        notes = report.get("notes") if outcome != "duplicate" else None
        details = {**({"notes": notes} if notes else {}), **(RECOVERED if arrival.recovered else {})} or None
        entry = self._outcome_entry(arrival, outcome, study_uid, sop_uid, message, details=details)
        # The alert rules, on the study as merged (a growing report alerts once, when it crosses);
        # a duplicate too, so an object sent again after a failure between write and check still alerts.
        raised = (
            raise_alerts(self.store, document, via=arrival.via, client=arrival.client) if self.alerts and alerts else []
        )
        return Outcome(arrival.name, outcome, study_uid, sop_uid, message, None, arrival.sha256), [entry, *raised]

    def _outcome_entry(
        self, arrival: Arrival, outcome: str, study_uid: str | None, sop_uid: str | None, message: str, **extra: Any
    ) -> dict[str, Any]:
        """Return the event-log entry that says what happened to one object."""
        if arrival.origin is not None:
            extra["details"] = origin_details(arrival, extra.get("details"))
        return event_entry(
            outcome,
            via=arrival.via,
            client=arrival.client,
            name=arrival.name,
            study_instance_uid=study_uid,
            sop_instance_uid=sop_uid,
            sha256=arrival.sha256,
            outcome=outcome,
            message=message,
            **extra,
        )

    # -- reprocess -------------------------------------------------------------------

    def reprocess(self, *, via: str = "cli", client: str = "") -> Iterator[Outcome]:
        """Run extraction again over every kept original, oldest first, and merge the results."""
        for original in self.store.iter_originals():
            yield self._reprocess_one(original, via=via, client=client)

    def _reprocess_one(self, original: Original, *, via: str, client: str) -> Outcome:
        arrival = Arrival(f"{original.name} ({original.sha256[:12]})", via, client, original.sha256, utcnow())
        outcome, entries = self._redo(original, arrival)
        self.store.append_events(entries)
        return outcome

    def _redo(self, original: Original, arrival: Arrival, *, reprocess: bool = True) -> Result:
        """Extract and save one kept original again; return what happened and its event-log entry."""
        ds: Dataset | None = None
        try:
            ds = read_dataset(original.data, arrival.name, max_bytes=self.max_bytes)
            self._prepare_kept(ds, arrival.name)
            fragment = self._extract(ds, arrival.name)
            fragment = stamp(fragment, sha256=original.sha256, received_at=original.received_at, via=original.via)
            journal = None if reprocess else noted(arrival, fragment)
            result = save_fragment(self.store, fragment, now=arrival.received_at, reprocess=reprocess, journal=journal)
        except RejectedObject as e:
            return self._reject(arrival, e, *identity(ds))
        return self._accept(arrival, result.outcome, result.document, fragment["report"])

    def _prepare_kept(self, ds: Dataset, name: str) -> None:
        """Give a kept original from before de-identification its key (in memory; scrub-originals rewrites it)."""
        try:
            prepare(ds, self.patient_keys, self.not_patient_patterns, kept=True)
        except Exception as e:
            log.warning("Could not remove the patient's identity from %s (%s).", name, type(e).__name__)
