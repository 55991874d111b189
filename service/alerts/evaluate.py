"""Evaluate one rule against one study document: a :class:`Finding` when it is above, else None.

One function per kind of rule (:data:`KINDS`). A finding carries the value and the
level in the unit the rule was given in (reference-level rules: in the audit's
unit of the quantity, as the reference levels are kept), and what led to it
(the event, the reference name, the studies summed). What the rules need of the
database (reference levels, standard names, a patient's other studies) comes
through :class:`Lookups`. Pure otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from service.alerts.quantities import STUDIES, events_of
from service.alerts.rules import Rule
from service.audits.names import raw_name_of
from service.audits.pipeline import common
from service.modalities import MODALITIES
from service.units import convert


@dataclass(frozen=True)
class Finding:
    """A rule whose level a study is above: the value, the level, their unit, and why."""

    rule: Rule
    value: float
    level: float | None
    unit: str | None
    details: dict[str, Any] = field(default_factory=dict)


class Lookups(Protocol):
    """What some rules need of the database."""

    def reference_level(self, modality: str, name_field: str, raw: Any, quantity: str) -> tuple[str, float] | None:
        """Return the (standard) name of ``raw`` and its reference level of ``quantity``, if it has one."""

    def patient_studies(self, key: str, stored: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Return the studies of one patient key and stored modality dated in [start, end]."""


def study_total(rule: Rule, document: dict[str, Any], lookups: Lookups) -> Finding | None:
    """Compare the study's total (summary) with the level."""
    assert rule.quantity is not None and rule.stored_level is not None
    value = rule.quantity.value(document.get("summary") or {})
    if value is None or value <= rule.stored_level:
        return None
    return Finding(rule, rule.shown(value), rule.level, rule.unit)


def event_value(rule: Rule, document: dict[str, Any], lookups: Lookups) -> Finding | None:
    """Compare each event's value with the level; the highest event above it is the finding."""
    assert rule.quantity is not None and rule.stored_level is not None
    level = rule.stored_level
    above = [
        (v, e) for e in events_of(document, rule.modality) if (v := rule.quantity.value(e)) is not None and v > level
    ]
    if not above:
        return None
    value, event = max(above, key=lambda pair: pair[0])
    details = {"event": _event_name(event), "events_above": len(above)}
    return Finding(rule, rule.shown(value), rule.level, rule.unit, details)


def _event_name(event: dict[str, Any]) -> dict[str, Any]:
    """Return what identifies an event to a reader: its UID and protocol."""
    uid = event.get("irradiation_event_uid") or event.get("radiopharmaceutical_administration_event_uid")
    return {"uid": uid, "acquisition_protocol": event.get("acquisition_protocol")}


def reference_multiple(rule: Rule, document: dict[str, Any], lookups: Lookups) -> Finding | None:
    """Compare the study's (or each event's) value with ``multiple`` times the reference level of its name."""
    quantity = rule.quantity
    assert quantity is not None and quantity.reference is not None and quantity.name_field is not None
    audit = common()["quantities"][quantity.reference]
    holders = [document.get("summary") or {}] if quantity.scope == "study" else events_of(document, rule.modality)
    best: tuple[float, float, float, str, dict[str, Any]] | None = None
    for holder in holders:
        value = quantity.value(holder)
        raw = raw_name_of(rule.modality, quantity.name_field, document if quantity.scope == "study" else holder)
        found = lookups.reference_level(rule.modality, quantity.name_field, raw, quantity.reference)
        if value is None or found is None:
            continue
        shown, level = convert(value, quantity.ucum, audit["ucum"]), (rule.multiple or 1) * found[1]
        if shown > level and (best is None or shown / level > best[0] / best[1]):
            best = (shown, level, found[1], found[0], holder)
    if best is None:
        return None
    shown, level, reference, name, holder = best
    details = {"reference_name": name, "reference_level": reference, "multiple": rule.multiple}
    if quantity.scope == "event":
        details["event"] = _event_name(holder)
    return Finding(rule, shown, level, audit["unit"], details)


#: (forward estimate, the value it is compared with, label, unit) per part of TID 10015
DOSE_CHECKS = {
    "alert": (
        ("accumulated_dlp_forward_estimate", "dlp_alert_value", "DLP", "mGy·cm"),
        ("accumulated_ctdivol_forward_estimate", "ctdivol_alert_value", "CTDIvol", "mGy"),
    ),
    "notification": (
        ("dlp_forward_estimate", "dlp_notification_value", "DLP", "mGy·cm"),
        ("ctdivol_forward_estimate", "ctdivol_notification_value", "CTDIvol", "mGy"),
    ),
}


def dose_check(rule: Rule, document: dict[str, Any], lookups: Lookups) -> Finding | None:
    """Find a CT Dose Check alert or notification that was triggered (NEMA XR 25, DICOM TID 10015).

    TID 10015 records a forward estimate (Accumulated DLP Forward Estimate, DLP
    Forward Estimate...) only when it exceeds the configured value, the operator
    being alerted or notified and going on; the configured values alone are in
    every report. So a forward estimate at or above its value (or with no value
    stated) is a check that was triggered.
    """
    parts = ("alert", "notification") if rule.check == "either" else (rule.check or "alert",)
    for event in events_of(document, "CT"):
        checks = event.get("dose_check") if isinstance(event.get("dose_check"), dict) else {}
        for part in parts:
            found = _triggered(checks.get(part), part)
            if found is not None:
                estimate, value, label, unit = found
                details = {"check": part, "quantity": label, "event": _event_name(event)}
                return Finding(rule, estimate, value, unit, details)
    return None


def _triggered(details: Any, part: str) -> tuple[float, float | None, str, str] | None:
    """Return (estimate, configured value, label, unit) of a triggered check in one part, or None."""
    if not isinstance(details, dict):
        return None
    for estimate_field, value_field, label, unit in DOSE_CHECKS[part]:
        estimate, value = _number(details.get(estimate_field)), _number(details.get(value_field))
        if estimate is not None and (value is None or estimate >= value):
            return estimate, value, label, unit
    return None


def _number(value: Any) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def cumulative(rule: Rule, document: dict[str, Any], lookups: Lookups) -> Finding | None:
    """Sum the patient's studies (same ``patient.key``) over the window; above the level, a finding.

    Every window of ``window_days`` that holds this study is looked at (ending at this
    study, or at a later study of the patient within the window, for reports that come
    late), and the largest sum counts.
    """
    key, when = (document.get("patient") or {}).get("key"), document.get("study_date_time")
    if not key or not isinstance(when, datetime):
        return None
    window = timedelta(days=rule.window_days)
    studies = lookups.patient_studies(key, MODALITIES[rule.modality].stored, when - window, when + window)
    studies = [s for s in studies if s.get("study_instance_uid") != document["study_instance_uid"]] + [document]
    best = max((window_sum(rule, studies, end) for end in _ends(studies, when, window)), key=lambda s: s[0])
    total, counted = best
    if rule.stored_level is None or total <= rule.stored_level:
        return None
    uids = [s["study_instance_uid"] for s in counted]
    details = {
        "window_days": rule.window_days,
        "studies": uids,
        "window_end": max(s["study_date_time"] for s in counted),
    }
    return Finding(rule, rule.shown(total), rule.level, rule.unit, details)


def _ends(studies: list[dict[str, Any]], when: datetime, window: timedelta) -> list[datetime]:
    """Return the ends of the windows holding a study dated ``when``: it, and the later studies within the window."""
    return sorted({when} | {s["study_date_time"] for s in studies if when <= s["study_date_time"] < when + window})


def window_sum(rule: Rule, studies: list[dict[str, Any]], end: datetime) -> tuple[float, list[dict[str, Any]]]:
    """Return the rule's sum over the studies dated in the window ending at ``end``, and those studies."""
    start = end - timedelta(days=rule.window_days)
    counted = [
        s for s in studies if isinstance(s.get("study_date_time"), datetime) and start < s["study_date_time"] <= end
    ]
    counted.sort(key=lambda s: s["study_date_time"])
    assert rule.quantity is not None
    if rule.quantity.ucum == STUDIES:
        return float(len(counted)), counted
    values = [rule.quantity.value(s.get("summary") or {}) for s in counted]
    return float(sum(v for v in values if v is not None)), counted


KINDS: dict[str, Callable[[Rule, dict[str, Any], Lookups], Finding | None]] = {
    "study_total": study_total,
    "event_value": event_value,
    "reference_multiple": reference_multiple,
    "cumulative": cumulative,
    "dose_check": dose_check,
}


def evaluate(rule: Rule, document: dict[str, Any], lookups: Lookups) -> Finding | None:
    """Return the finding of ``rule`` on ``document`` (None: below its level, or not its study)."""
    if not rule.applies_to(document):
        return None
    return KINDS[rule.kind](rule, document, lookups)
