"""Fold a dose object's fragment into its study document (DESIGN.md, merging).

Pure functions: no database. The rules:

* An object already recorded with the same bytes (SOP Instance UID and SHA-256)
  is a duplicate and changes nothing (unless reprocessing). So is the same
  object with other bytes, when folding it in would change nothing but the
  report's bytes, route and arrival (``BOOKKEEPING``): an object sent once over
  HTTP and once by C-STORE differs in its file meta information (the SCP
  rebuilds it), or in its transfer syntax, not in its content. The study's
  ``reports`` entry keeps the first arrival.
* Events are identified by their UID (``IDENTITIES``); a repeated event replaces
  the stored one in place, a new one is appended. Each event records the report
  that last supplied it in ``source_sop_instance_uid``.
* Each report keeps its own accumulated blocks and the UIDs of its events. A
  report whose events all stand in another report (a later one, when both hold
  the same events) is superseded; the study's accumulated block is the sum of
  the other reports' blocks. So a cumulative re-send supersedes the earlier
  report, in whatever order they arrive (Siemens Multi-1..3: 7.46, 77.27,
  236.09 mGy·cm), while disjoint continuations add up (Continued-1 and -2).
* An entry read from an image header (report kind ``image``) is the same thing
  as a stored entry whose ``SAME_AS`` value is equal: the For Processing and For
  Presentation images of one mammography exposure (same acquisition date-time),
  or an NM/PET image and the radiopharmaceutical report of one administration
  (same radionuclide). It is counted once: a report's values win over an
  image's in either order, the first image's over a later one's, the other
  side only fills gaps, and ``also_in`` lists the SOP Instance UIDs of the
  objects that were folded in. An absorbed image's ``reports`` entry records it
  with no events of its own.
* Header values of the newest object win where it has them; modalities add up
  (sorted, so a PET/CT study is ``["CT", "NM"]`` whichever report came first).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.versions import SCHEMA_VERSION, upgrade
from service.codes import stored_key
from service.ingest.summary import summarise

#: Event arrays per section, with the field that identifies an event.
IDENTITIES: dict[str, dict[str, str]] = {
    "ct": {"events": "irradiation_event_uid"},
    "projection": {"events": "irradiation_event_uid"},
    "radiopharmaceutical": {
        "administrations": "radiopharmaceutical_administration_event_uid",
        "pet_series": "series_instance_uid",
    },
}

#: Per event array, the value that makes an image-derived entry the same as another entry.
SAME_AS: dict[str, dict[str, str]] = {
    "projection": {"events": "date_time_started"},
    "radiopharmaceutical": {"administrations": "radionuclide"},
}

#: What a report entry and the study say about an arrival rather than the object's content.
BOOKKEEPING = frozenset({"sha256", "via", "received_at"})
STUDY_BOOKKEEPING = frozenset({"_id", "revision", "updated_at", "created_at", "reports", "schema_version"})

STUDY_FIELDS = (
    "study_date_time",
    "accession_number",
    "study_id",
    "study_description",
    "requested_procedure_description",
    "procedure_reported",
    "operators_name",
    "performing_physician_name",
    "referring_physician_name",
)


@dataclass(frozen=True)
class MergeResult:
    """The new document and what happened: created, merged or duplicate."""

    document: dict[str, Any]
    outcome: str


def merge(
    existing: dict[str, Any] | None, fragment: dict[str, Any], *, now: datetime, reprocess: bool = False
) -> MergeResult:
    """Return the study document with ``fragment`` folded into ``existing``."""
    report = dict(fragment["report"])
    report.pop("notes", None)
    if existing and not reprocess and _is_duplicate(existing, report):
        return MergeResult(existing, "duplicate")
    doc = _own(upgrade(existing)) if existing else _new_document(fragment, now)
    _merge_header(doc, fragment)
    sop = report["sop_instance_uid"]
    images = {r["sop_instance_uid"] for r in doc.get("reports", []) if r.get("kind") == "image"}
    images |= {sop} if report.get("kind") == "image" else set()
    report["accumulated"] = {}
    report["event_uids"] = []
    for section in IDENTITIES:
        if section in fragment:
            content = dict(fragment[section])
            report["accumulated"][section] = content.pop("accumulated", None)
            report["event_uids"] += _merge_events(doc.setdefault(section, {}), content, section, sop, images)
    others = [r for r in doc.get("reports", []) if r["sop_instance_uid"] != sop]
    doc["reports"] = [*_listing_existing(others, doc), report]
    _recompute_accumulated(doc)
    doc["summary"] = summarise(doc)
    if existing and not reprocess and _changes_nothing(existing, doc, sop):
        return MergeResult(existing, "duplicate")
    doc["revision"] = doc.get("revision", 0) + 1
    doc["updated_at"] = now
    return MergeResult(doc, "created" if existing is None else "merged")


def _listing_existing(reports: list[dict[str, Any]], doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Return ``reports`` listing only the entries still in the document (an image's entry a report absorbed is not).

    So a study reads the same whatever the order its objects were applied in,
    and reprocessing gives the document the first import gave.
    """
    present = {
        str(entry.get(identity))
        for section, arrays in IDENTITIES.items()
        for array, identity in arrays.items()
        for entry in (doc.get(section) or {}).get(array, [])
    }
    listed = [[uid for uid in r.get("event_uids", []) if uid in present] for r in reports]
    return [
        r if len(uids) == len(r.get("event_uids", [])) else {**r, "event_uids": uids}
        for r, uids in zip(reports, listed, strict=True)
    ]


def _is_duplicate(existing: dict[str, Any], report: dict[str, Any]) -> bool:
    return any(
        r["sop_instance_uid"] == report["sop_instance_uid"] and r.get("sha256") == report.get("sha256")
        for r in existing.get("reports", [])
    )


def _changes_nothing(existing: dict[str, Any], doc: dict[str, Any], sop: str) -> bool:
    """Tell whether ``doc`` is ``existing`` again, with the object ``sop`` already in it by another arrival."""
    if sop not in {r["sop_instance_uid"] for r in existing.get("reports", [])}:
        return False
    return _content(existing) == _content(doc)


def _content(doc: dict[str, Any]) -> Any:
    """Return what a study document says about the exposures: no bookkeeping, reports by SOP Instance UID."""
    reports = {
        r["sop_instance_uid"]: {k: v for k, v in r.items() if k not in BOOKKEEPING} for r in doc.get("reports", [])
    }
    return _stored_form({**{k: v for k, v in doc.items() if k not in STUDY_BOOKKEEPING}, "reports": reports})


def _stored_form(value: Any) -> Any:
    """Return ``value`` as the database gives it back: date-times to the millisecond, tuples as lists."""
    if isinstance(value, dict):
        return {k: _stored_form(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_stored_form(v) for v in value]
    if isinstance(value, datetime):
        return value.replace(microsecond=value.microsecond // 1000 * 1000, tzinfo=None)
    return value


def _own(existing: dict[str, Any]) -> dict[str, Any]:
    """Copy what merging changes in place: the top level, header blocks, sections and their event arrays.

    The rest (events, reports, coded values) is shared with ``existing``: merging
    replaces those whole, never changes them, so neither input is modified.
    """
    doc = dict(existing)
    for block in ("patient", "equipment"):
        if isinstance(doc.get(block), dict):
            doc[block] = dict(doc[block])
    for section, arrays in IDENTITIES.items():
        if isinstance(doc.get(section), dict):
            doc[section] = {**doc[section], **{a: list(doc[section][a]) for a in arrays if a in doc[section]}}
    return doc


def _new_document(fragment: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "study_instance_uid": fragment["study_instance_uid"],
        "modalities": [],
        "patient": {},
        "equipment": {},
        "created_at": now,
        "revision": 0,
        "schema_version": SCHEMA_VERSION,
    }


def _merge_header(doc: dict[str, Any], fragment: dict[str, Any]) -> None:
    for name in STUDY_FIELDS:
        if fragment.get(name) is not None or name not in doc:
            doc[name] = fragment.get(name) if fragment.get(name) is not None else doc.get(name)
    for block in ("patient", "equipment"):
        target = doc.setdefault(block, {})
        for name, value in fragment.get(block, {}).items():
            if value is not None or name not in target:
                target[name] = value
    doc["modalities"] = sorted({*doc.get("modalities", []), *fragment.get("modalities", [])})


def _merge_events(
    target: dict[str, Any], content: dict[str, Any], section: str, sop: str, images: set[str]
) -> list[str]:
    """Merge a section's event arrays into ``target``; return the UIDs of the events that came."""
    uids = []
    for array, identity in IDENTITIES[section].items():
        stored = target.setdefault(array, [])
        same_as = SAME_AS.get(section, {}).get(array)
        for sent in content.pop(array, []):
            event = {**sent, "source_sop_instance_uid": sop}
            if _place(stored, event, identity, same_as, images):
                uids.append(str(event.get(identity)))
    target.update(content)  # any other section-level values of the newest report
    return uids


def _place(
    stored: list[dict[str, Any]], event: dict[str, Any], identity: str, same_as: str | None, images: set[str]
) -> bool:
    """Put one entry into ``stored``; return False when it was folded into another entry."""
    uids = [e.get(identity) for e in stored]
    if event.get(identity) in uids:
        position = uids.index(event.get(identity))
        kept = stored[position]
        # what images folded into the entry stays where the repeated event leaves a gap (as on the first fold)
        stored[position] = {**kept, **event, "also_in": kept["also_in"]} if "also_in" in kept else event
        return True
    position = _same_as(stored, event, same_as, images) if same_as else None
    if position is None:
        stored.append(event)
        return True
    kept = stored[position]
    image_comes = event["source_sop_instance_uid"] in images
    winner, loser = (kept, event) if image_comes else (event, kept)
    folded_in = list(dict.fromkeys([*kept.get("also_in", []), loser["source_sop_instance_uid"]]))
    stored[position] = {**loser, **winner, "also_in": folded_in}
    return not image_comes


def _same_as(stored: list[dict[str, Any]], event: dict[str, Any], field: str, images: set[str]) -> int | None:
    """Return where an entry describing the same thing is stored, when one side came from an image."""
    value = _comparable(event.get(field))
    if value is None:
        return None
    for position, other in enumerate(stored):
        from_image = images & {event["source_sop_instance_uid"], other.get("source_sop_instance_uid")}
        if from_image and _comparable(other.get(field)) == value:
            return position
    return None


def _comparable(value: Any) -> Any:
    """Return a value to compare: a coded value as its normalised (scheme, code) (SRT is SCT)."""
    return stored_key(value) or value


def _current_reports(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the reports that no other report supersedes (see the module docstring).

    Report ``i`` is superseded by a report ``j`` whose events include all of
    its own, more of them or, for the same ones, later (``j > i``). Only the
    reports holding one of ``i``'s events can, so each report is compared with
    those (found through an index of event UIDs), not with every other: a
    study of 900 images, one event each, costs 900 look-ups, not 810,000.
    """
    reports = doc["reports"]
    uids = [frozenset(r.get("event_uids", [])) for r in reports]
    holders: dict[str, list[int]] = {}
    for j, held in enumerate(uids):
        for uid in held:
            holders.setdefault(uid, []).append(j)
    any_events = any(uids)

    def superseded(i: int) -> bool:
        if not uids[i]:  # no events of its own: any report with events, or any later one, holds all of them
            return any_events or i < len(reports) - 1
        rarest = min(uids[i], key=lambda uid: len(holders[uid]))
        return any(j != i and uids[i] <= uids[j] and (uids[i] < uids[j] or j > i) for j in holders[rarest])

    return [r for i, r in enumerate(reports) if not superseded(i)]


def _recompute_accumulated(doc: dict[str, Any]) -> None:
    current = _current_reports(doc)
    for section in IDENTITIES:
        blocks = [r["accumulated"][section] for r in current if r.get("accumulated", {}).get(section)]
        if blocks and section in doc:
            doc[section]["accumulated"] = combine_blocks(blocks)


def combine_blocks(blocks: list[Any]) -> Any:
    """Add accumulated blocks of several reports: numbers sum, other values come from the first.

    Projection blocks are lists, one per acquisition plane (and mammography's
    accumulated AGD one per laterality); entries are matched by that code.
    """
    if len(blocks) == 1:
        return blocks[0]
    first = blocks[0]
    if isinstance(first, list):
        groups: dict[tuple[str, str] | None, list[Any]] = {}
        for block in blocks:
            for entry in block:
                groups.setdefault(_entry_key(entry), []).append(entry)
        return [combine_blocks(entries) for entries in groups.values()]
    if isinstance(first, dict):
        names = dict.fromkeys(name for block in blocks for name in block)
        return {name: combine_blocks([b[name] for b in blocks if name in b]) for name in names}
    if all(isinstance(b, int | float) and not isinstance(b, bool) for b in blocks):
        return float(f"{sum(blocks):.12g}") if any(isinstance(b, float) for b in blocks) else sum(blocks)
    return first


def _entry_key(entry: Any) -> tuple[str, str] | None:
    """Match list entries of accumulated blocks by acquisition plane or laterality (code value and scheme)."""
    if isinstance(entry, dict):
        for name in ("acquisition_plane", "laterality"):
            key = stored_key(entry.get(name))
            if key is not None:
                return key
    return None
