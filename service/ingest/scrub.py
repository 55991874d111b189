"""``doseledger scrub-originals``: remove the patient's identity from originals kept by earlier versions.

Each kept original not yet de-identified is read, given DoseLedger's private
block (patient key under the site secret, not-patient indicator with the
patterns configured now, age from the birth date) and stripped as ingest strips
an object arriving (:mod:`service.ingest.deidentify`); its bytes are replaced
under the same SHA-256, the hash of the bytes received, so a resend is still
recognised. ``doseledger reprocess`` afterwards gives the documents it gave
before (plus the patient key where the study had none).

Idempotent: originals already de-identified are not read again, and a run
interrupted half way is completed by the next (the store stages the new bytes
first). Originals that are not readable DICOM (rejected as ``not-dicom``)
cannot be de-identified and stay as received; every run counts them. Each run
is one ``scrub-originals`` event-log entry.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from service.errors import NotDicom
from service.ingest.deidentify import prepare
from service.ingest.dicomfile import bytes_to_keep, read_dataset
from service.storage import Original

if TYPE_CHECKING:
    from service.ingest.pipeline import Pipeline

SCRUBBED, UNREADABLE, FAILED = "scrubbed", "not DICOM, kept as received", "could not be re-encoded"
#: at most this many SHA-256s of originals left as they are go into the event-log entry
LISTED = 100


@dataclass(frozen=True)
class Scrubbed:
    """What one run did: originals per outcome, those left as received, and the event-log entry."""

    counts: Counter[str]
    left: list[str]
    finished: int
    seq: int

    def summary(self) -> str:
        """Say what was done, in one line."""
        parts = [f"{self.counts[SCRUBBED]} originals scrubbed"]
        parts += [f"{self.counts[outcome]} {outcome}" for outcome in (UNREADABLE, FAILED) if self.counts[outcome]]
        if self.finished:
            parts.append(f"{self.finished} interrupted replacements completed")
        return ", ".join(parts) + "."


def scrub_originals(
    pipeline: Pipeline, *, via: str, client: str, progress: Callable[[str], None] = lambda outcome: None
) -> Scrubbed:
    """De-identify every kept original that is not yet; log the run."""
    store = pipeline.store
    finished = store.finish_replacements()
    counts: Counter[str] = Counter()
    left: list[str] = []
    for original in store.iter_originals(unscrubbed_only=True):
        outcome = _scrub(pipeline, original)
        counts[outcome] += 1
        if outcome != SCRUBBED and len(left) < LISTED:
            left.append(original.sha256)
        progress(outcome)
    result = Scrubbed(counts, left, finished, 0)
    seq = store.append_event(
        "scrub-originals",
        via=via,
        client=client,
        outcome="scrubbed",
        message=result.summary(),
        details={"scrubbed": counts[SCRUBBED], "left_as_received": left, "finished": finished},
    )
    return Scrubbed(counts, left, finished, seq)


def _scrub(pipeline: Pipeline, original: Original) -> str:
    """De-identify one kept original and replace its bytes; return the outcome."""
    try:
        ds = read_dataset(original.data, original.sha256)
    except NotDicom:
        return UNREADABLE
    try:
        prepare(ds, pipeline.patient_keys, pipeline.not_patient_patterns, kept=True)
    except Exception:  # a dataset pydicom cannot take apart is left as it is, and counted
        return FAILED
    data = bytes_to_keep(ds)
    if data is None:
        return FAILED
    uid = ds.get("StudyInstanceUID")
    pipeline.store.replace_original(original.sha256, data, study_instance_uid=str(uid) if uid else None, scrubbed=True)
    return SCRUBBED
