"""Deleting studies: one on an admin's request, or every study older than a retention limit.

A deleted study leaves nothing behind but its event-log entry: its document,
its share of the tallies, and its originals (those its reports name, and any
other kept with its Study Instance UID, rejected ones included) all go, so
``doseledger reprocess`` cannot bring it back. The originals go first: a
deletion interrupted half way leaves the document, and deleting it again
finishes the work. The entry (type ``deleted``) says who (``client``), when
(``at``) and why (``details.reason``, required). The reason is stored as typed:
it must not name the patient.

A modality or router that sends a deleted study again creates it again: the
deletion is of what was received, not a block on what may come.

Retention: ``doseledger purge --before YYYY-MM-DD`` deletes every study dated
before that day (a study without a date counts from when it was received), each
with its own ``deleted`` entry, then logs one ``purge`` entry. Without
``--before`` it uses ``DOSELEDGER_RETENTION_YEARS`` (today minus that many
years); nothing is purged on its own: schedule the command (cron, a systemd
timer).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from service.errors import ConfigurationError, InvalidArgument, NotFound
from service.storage import Store

#: the longest reason accepted, in characters
MAX_REASON = 1000
#: studies deleted per query while purging
PURGE_BATCH = 100


@dataclass(frozen=True)
class Deleted:
    """One study deleted."""

    study_instance_uid: str
    originals: int
    seq: int


@dataclass(frozen=True)
class Purged:
    """What one purge deleted."""

    before: date
    studies: int
    originals: int
    seq: int


def check_reason(reason: str | None) -> str:
    """Return the reason stripped; raise :class:`InvalidArgument` when it is missing or too long."""
    text = (reason or "").strip()
    if not text:
        raise InvalidArgument({"reason": ["Say why the study is deleted: the reason is required and logged."]})
    if len(text) > MAX_REASON:
        raise InvalidArgument({"reason": [f"At most {MAX_REASON} characters, found {len(text)}."]})
    return text


def delete_study(store: Store, study_instance_uid: str, *, reason: str, via: str, client: str) -> Deleted:
    """Delete a study, its originals and its share of the tallies, and log who, when and why."""
    reason = check_reason(reason)
    document = store.get_study(study_instance_uid)  # NotFound when there is none
    named = {report.get("sha256") for report in document.get("reports", [])}
    originals = store.delete_originals(s for s in named | set(store.originals_of_study(study_instance_uid)) if s)
    deleted = store.delete_study(study_instance_uid)
    if deleted is None:
        raise NotFound(f"There is no study with Study Instance UID {study_instance_uid}; it was deleted meanwhile.")
    originals += store.delete_originals(store.originals_of_study(study_instance_uid))  # kept meanwhile
    seq = store.append_event(
        "deleted",
        via=via,
        client=client,
        study_instance_uid=study_instance_uid,
        outcome="deleted",
        message=f"Study {study_instance_uid} was deleted with {originals} kept original(s). Reason: {reason}",
        details={"reason": reason, "originals": originals, "modalities": deleted.get("modalities", [])},
    )
    return Deleted(study_instance_uid, originals, seq)


def retention_cutoff(years: int | None, today: date) -> date:
    """Return the day before which studies are past retention; raise when no retention is configured."""
    if years is None:
        raise ConfigurationError(
            "Give --before YYYY-MM-DD, or set DOSELEDGER_RETENTION_YEARS to purge what is older than that."
        )
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def purge(
    store: Store,
    before: date,
    *,
    via: str,
    client: str,
    progress: Callable[[Deleted], None] = lambda deleted: None,
) -> Purged:
    """Delete every study before ``before`` (each logged), then log the purge; return what went."""
    cutoff = datetime.combine(before, datetime.min.time())
    reason = f"purge of the studies before {before.isoformat()}"
    studies = originals = 0
    while uids := store.studies_before(cutoff, PURGE_BATCH):
        for uid in uids:
            try:
                deleted = delete_study(store, uid, reason=reason, via=via, client=client)
            except NotFound:  # deleted by someone else meanwhile
                continue
            studies, originals = studies + 1, originals + deleted.originals
            progress(deleted)
    seq = store.append_event(
        "purge",
        via=via,
        client=client,
        outcome="purged",
        message=f"{studies} studies before {before.isoformat()} were deleted with {originals} kept original(s).",
        details={"before": before.isoformat(), "studies": studies, "originals": originals},
    )
    return Purged(before, studies, originals, seq)
