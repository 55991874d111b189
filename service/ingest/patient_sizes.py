"""Import patient heights and weights from a RIS CSV file into the studies it names.

One path for ``doseledger patient-sizes`` and ``POST /api/patient-sizes``: read
the file (:mod:`service.ingest.ris_file`), find the studies each row names (by
accession number, or by Study Instance UID), set the heights and weights they
lack (every one with ``overwrite``), and say per row what happened. Each study
changed is an event-log entry (type ``patient-sizes``, outcome ``updated``), as
are the file's summary (``imported``) and a file that cannot be used
(``rejected``). A row that names no study is reported, not an error: a RIS
export usually covers more studies than DoseLedger holds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from service.errors import DatabaseUnavailable, InvalidFile
from service.ingest.ris_file import NO_SUCH_STUDY, UNCHANGED, UNREADABLE, UPDATED, SizeRow, changes_for, parse_sizes
from service.storage import Store, utcnow

OUTCOMES = (UPDATED, UNCHANGED, NO_SUCH_STUDY, UNREADABLE)
EVENT_TYPE = "patient-sizes"

#: How a row names its study: by Study Instance UID or not -> (study field, what the messages call it).
MATCH = {False: ("accession_number", "accession number"), True: ("study_instance_uid", "Study Instance UID")}

#: Units the messages show sizes in (the stored ones).
UNITS = {"height_m": ("height", "m"), "weight_kg": ("weight", "kg")}

#: Attempts at one study's update when others write it at the same moment.
ATTEMPTS = 8


@dataclass(frozen=True)
class Sender:
    """Where a file came from, for the event log."""

    name: str
    via: str
    client: str


@dataclass(frozen=True)
class RowResult:
    """What one row of the file did."""

    line: int
    study: str  # the accession number or Study Instance UID as the file gives it
    outcome: str
    message: str
    study_instance_uids: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Return the result as sent to API clients."""
        return {**asdict(self), "study_instance_uids": list(self.study_instance_uids)}


@dataclass(frozen=True)
class SizeImport:
    """What one file did, row by row."""

    name: str
    rows: list[RowResult]

    def counts(self) -> dict[str, int]:
        """Return the number of rows per outcome."""
        counted = Counter(row.outcome for row in self.rows)
        return {outcome: counted[outcome] for outcome in OUTCOMES}

    def summary(self) -> str:
        """Say in one line what the file did."""
        return f"{len(self.rows)} rows: " + ", ".join(f"{n} {outcome}" for outcome, n in self.counts().items())


def describe(sizes: dict[str, float]) -> str:
    """Describe sizes for people: ``height 1.7 m, weight 90 kg``."""
    return ", ".join(f"{UNITS[field][0]} {value:g} {UNITS[field][1]}" for field, value in sizes.items())


def import_sizes(
    store: Store,
    data: bytes,
    columns: tuple[str, str, str],
    sender: Sender,
    *,
    by_study_uid: bool = False,
    overwrite: bool = False,
) -> SizeImport:
    """Apply a patient-size file (columns: study, height in cm, weight in kg) and report each row."""
    try:
        rows = parse_sizes(data, *columns)
    except InvalidFile as e:
        error = InvalidFile(f"{sender.name} cannot be used: {e}")
        _log(store, sender, "rejected", str(error), code=error.code)
        raise error from e
    result = SizeImport(sender.name, [_apply(store, row, sender, by_study_uid, overwrite) for row in rows])
    _log(store, sender, "imported", f"{sender.name}: {result.summary()}")
    return result


def _apply(store: Store, row: SizeRow, sender: Sender, by_study_uid: bool, overwrite: bool) -> RowResult:
    """Apply one row to every study it names."""
    where = f"line {row.line}"
    if row.problem:
        return RowResult(row.line, row.study, UNREADABLE, f"{where}: {row.problem}")
    field, label = MATCH[by_study_uid]
    studies = store.patients_of(field, row.study)
    if not studies:
        return RowResult(row.line, row.study, NO_SUCH_STUDY, f"{where}: no study has {label} {row.study}")
    uids = tuple(study["study_instance_uid"] for study in studies)
    changed = {study["study_instance_uid"]: _update(store, study, row, sender, overwrite) for study in studies}
    updated = [f"{describe(changes)} on study {uid}" for uid, changes in changed.items() if changes]
    if updated:
        return RowResult(row.line, row.study, UPDATED, f"{where}: set " + "; ".join(updated), uids)
    return RowResult(row.line, row.study, UNCHANGED, f"{where}: {_why_unchanged(row, overwrite)}", uids)


def _why_unchanged(row: SizeRow, overwrite: bool) -> str:
    if not row.sizes:
        return "no height or weight given"
    if overwrite:
        return f"the study already holds {describe(dict(row.sizes))}"
    return f"the study already has a {' and a '.join(UNITS[f][0] for f in row.sizes)}; kept (overwrite replaces them)"


def _update(store: Store, study: dict[str, Any], row: SizeRow, sender: Sender, overwrite: bool) -> dict[str, float]:
    """Set what the row changes in one study, re-reading it if another writer got there first."""
    uid = study["study_instance_uid"]
    for _ in range(ATTEMPTS):
        patient = study.get("patient") or {}
        changes = changes_for(patient, row.sizes, overwrite=overwrite)
        if not changes:
            return {}
        expected = {field: patient.get(field) for field in changes}
        if store.set_patient_fields(uid, changes, expected=expected, now=utcnow()):
            message = f"{sender.name} line {row.line}: set {describe(changes)} on study {uid}"
            _log(store, sender, UPDATED, message, study_instance_uid=uid)
            return changes
        study = store.patients_of("study_instance_uid", uid)[0]
    raise DatabaseUnavailable(f"Study {uid} changed {ATTEMPTS} times while its patient sizes were set; try again.")


def _log(store: Store, sender: Sender, outcome: str, message: str, **fields: Any) -> None:
    store.append_event(
        EVENT_TYPE, via=sender.via, client=sender.client, name=sender.name, outcome=outcome, message=message, **fields
    )
