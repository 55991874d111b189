"""Import patient heights and weights from a RIS CSV file into the studies it names.

One path for ``doseledger patient-sizes`` and ``POST /api/patient-sizes``: read
the file (:mod:`service.ingest.ris_file`), find the studies each row names (by
accession number, or by Study Instance UID), set the heights and weights they
lack (every one with ``overwrite``), and say per row what happened. Each study
changed is an event-log entry (type ``patient-sizes``, outcome ``updated``), as
are the file's summary (``imported``) and a file that cannot be used
(``rejected``). A row that names no study is reported, not an error: a RIS
export usually covers more studies than DoseLedger holds.

In bulk (issue #20, item 11: a 20,000-row file took 27-38 s, three round trips
a row): the studies the rows name are read :data:`CHUNK` at a time, the rows
applied in their order to those studies in memory, each changed study written
once (its patient fields as they end, conditional on its revision as read) in
bulk writes of :data:`CHUNK`, and the entries logged in bulk. A study another
writer changed meanwhile is done again row by row, as before. SecantusDB spends
some 2-3 ms on each update however it is sent, so a file that changes 20,000
studies still takes about a minute; reading them and logging no longer do. A
file of more rows than ``DOSELEDGER_MAX_SIZE_ROWS`` is refused whole.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from service.errors import DatabaseUnavailable, InvalidFile
from service.ingest.ris_file import NO_SUCH_STUDY, UNCHANGED, UNREADABLE, UPDATED, SizeRow, changes_for, parse_sizes
from service.storage import Store, event_entry, utcnow

OUTCOMES = (UPDATED, UNCHANGED, NO_SUCH_STUDY, UNREADABLE)
EVENT_TYPE = "patient-sizes"

#: How a row names its study: by Study Instance UID or not -> (study field, what the messages call it).
MATCH = {False: ("accession_number", "accession number"), True: ("study_instance_uid", "Study Instance UID")}

#: Units the messages show sizes in (the stored ones).
UNITS = {"height_m": ("height", "m"), "weight_kg": ("weight", "kg")}

#: Attempts at one study's update when others write it at the same moment.
ATTEMPTS = 8
#: Studies read, and written, per round trip; event-log entries per append.
CHUNK = 500


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
    max_rows: int | None = None,
) -> SizeImport:
    """Apply a patient-size file (columns: study, height in cm, weight in kg) and report each row."""
    try:
        rows = parse_sizes(data, *columns, max_rows=max_rows)
    except InvalidFile as e:
        error = InvalidFile(f"{sender.name} cannot be used: {e}")
        _log(store, sender, "rejected", str(error), code=error.code)
        raise error from e
    key, _ = MATCH[by_study_uid]
    named = _named(store, key, sorted({row.study for row in rows if not row.problem}))
    result = SizeImport(sender.name, [_plan(row, named, by_study_uid, overwrite) for row in rows])
    studies = {study.uid: study for found in named.values() for study in found}.values()
    _write(store, [study for study in studies if study.lines], sender, overwrite)
    _log(store, sender, "imported", f"{sender.name}: {result.summary()}")
    return result


@dataclass
class _Study:
    """A study the file names: as read, and as the rows leave it (in memory until written)."""

    uid: str
    revision: Any  # as read: the write is conditional on it
    patient: dict[str, Any]  # as the rows so far leave it
    lines: list[tuple[SizeRow, dict[str, float]]] = field(default_factory=list)  # the rows that change it


def _named(store: Store, key: str, values: list[str]) -> dict[str, list[_Study]]:
    """Return the studies each value names (by study field ``key``), read CHUNK values at a time."""
    named: dict[str, list[_Study]] = {}
    for start in range(0, len(values), CHUNK):
        for doc in store.patients_of_many(key, values[start : start + CHUNK]):
            study = _Study(doc["study_instance_uid"], doc.get("revision"), dict(doc.get("patient") or {}))
            named.setdefault(doc[key], []).append(study)
    return named


def _plan(row: SizeRow, named: dict[str, list[_Study]], by_study_uid: bool, overwrite: bool) -> RowResult:
    """Apply one row to the studies it names, in memory, and say what it did."""
    where, label = f"line {row.line}", MATCH[by_study_uid][1]
    if row.problem:
        return RowResult(row.line, row.study, UNREADABLE, f"{where}: {row.problem}")
    studies = sorted(named.get(row.study, []), key=lambda study: study.uid)
    if not studies:
        return RowResult(row.line, row.study, NO_SUCH_STUDY, f"{where}: no study has {label} {row.study}")
    updated = []
    for study in studies:
        changes = changes_for(study.patient, row.sizes, overwrite=overwrite)
        if changes:
            study.patient.update(changes)
            study.lines.append((row, changes))
            updated.append(f"{describe(changes)} on study {study.uid}")
    uids = tuple(study.uid for study in studies)
    if updated:
        return RowResult(row.line, row.study, UPDATED, f"{where}: set " + "; ".join(updated), uids)
    return RowResult(row.line, row.study, UNCHANGED, f"{where}: {_why_unchanged(row, overwrite)}", uids)


def _write(store: Store, studies: list[_Study], sender: Sender, overwrite: bool) -> None:
    """Write the changed studies in bulk, log each change in the file's order; redo a study changed meanwhile."""
    done: list[tuple[int, str, dict[str, float]]] = []
    for start in range(0, len(studies), CHUNK):
        chunk = studies[start : start + CHUNK]
        if store.set_patients_fields([(study.uid, _final(study), study.revision) for study in chunk], now=utcnow()):
            stored = {study.uid: study.patient for study in chunk}
        else:  # some were changed by another writer meanwhile: which, read back
            found = store.patients_of_many("study_instance_uid", [study.uid for study in chunk])
            stored = {doc["study_instance_uid"]: doc.get("patient") or {} for doc in found}
        for study in chunk:
            if all(stored.get(study.uid, {}).get(f) == v for f, v in _final(study).items()):
                done += [(row.line, study.uid, changes) for row, changes in study.lines]
            else:  # its rows again, one by one, against what is stored
                _redo(store, study, sender, overwrite)
    entries = [_entry(sender, f"{sender.name} line {line}: set {describe(changes)} on study {uid}", uid)
               for line, uid, changes in sorted(done, key=lambda item: item[0])]  # fmt: skip
    for start in range(0, len(entries), CHUNK):
        store.append_events(entries[start : start + CHUNK])


def _final(study: _Study) -> dict[str, float]:
    """Return the patient fields the rows changed, with the values they end with."""
    return {f: study.patient[f] for _, changes in study.lines for f in changes}


def _redo(store: Store, study: _Study, sender: Sender, overwrite: bool) -> None:
    """Apply a study's rows again one by one against what is stored (a concurrent write came first)."""
    for row, _ in study.lines:
        current = store.patients_of("study_instance_uid", study.uid)
        if current:
            _update(store, current[0], row, sender, overwrite)


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
            store.append_events([_entry(sender, message, uid)])
            return changes
        study = store.patients_of("study_instance_uid", uid)[0]
    raise DatabaseUnavailable(f"Study {uid} changed {ATTEMPTS} times while its patient sizes were set; try again.")


def _entry(sender: Sender, message: str, uid: str) -> dict[str, Any]:
    return event_entry(
        EVENT_TYPE, via=sender.via, client=sender.client, name=sender.name, outcome=UPDATED, message=message,
        study_instance_uid=uid,
    )  # fmt: skip


def _log(store: Store, sender: Sender, outcome: str, message: str, **fields: Any) -> None:
    store.append_event(
        EVENT_TYPE, via=sender.via, client=sender.client, name=sender.name, outcome=outcome, message=message, **fields
    )
