"""Alerts as the API answers them and as the pages show them, and a patient's cumulative values.

Nothing here names a patient: an alert holds the study's date, station and
description, the value and the level. The cumulative values of a study's
patient (found by ``patient.key``) are only built for the ``pid`` role (the
caller decides).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from schemas.display import format_number
from service.alerts.evaluate import window_sum
from service.alerts.records import StoreLookups, human_unit
from service.alerts.rules import current_rules
from service.modalities import MODALITIES
from service.storage import Store

#: what GET /api/alerts gives of each alert, in this order
API_FIELDS = (
    "rule", "kind", "modality", "station_name", "study_instance_uid", "study_date_time", "study_description",
    "value", "level", "unit", "state", "raised_at", "test_patient", "details", "history",
)  # fmt: skip


def alert_json(alert: dict[str, Any]) -> dict[str, Any]:
    """Return an alert as the API answers it: ``id`` first, then :data:`API_FIELDS`."""
    return {"id": alert["_id"], **{name: alert.get(name) for name in API_FIELDS}}


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else ""


def _number(value: Any, unit: str | None) -> str:
    if not isinstance(value, int | float):
        return ""
    return f"{format_number(value)} {unit}" if unit else format_number(value)


def alert_rows(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return alerts as the pages' tables show them (text, numbers formatted)."""
    rows = []
    for alert in alerts:
        last = alert["history"][-1] if alert.get("history") else None
        rows.append({
            "id": alert["_id"],
            "rule": alert["rule"],
            "state": alert["state"],
            "modality": alert["modality"],
            "station": alert.get("station_name") or "",
            "study_instance_uid": alert["study_instance_uid"],
            "study_date": _when(alert.get("study_date_time")),
            "description": alert.get("study_description") or "",
            "value": _number(alert.get("value"), alert.get("unit")),
            "level": _number(alert.get("level"), alert.get("unit")),
            "raised_at": _when(alert.get("raised_at")),
            "test_patient": alert.get("test_patient", False),
            "answer": last and {**last, "at": _when(last.get("at"))},
        })  # fmt: skip
    return rows


def cumulative_values(store: Store, study: dict[str, Any]) -> list[dict[str, Any]]:
    """Return, per cumulative rule that applies to ``study``, its patient's sum over the window ending at the study."""
    key, when = (study.get("patient") or {}).get("key"), study.get("study_date_time")
    if not key or not isinstance(when, datetime):
        return []
    lookups = StoreLookups(store)
    found = []
    for rule in current_rules(store).rules:
        if rule.kind != "cumulative" or not rule.applies_to(study):
            continue
        start = when - timedelta(days=rule.window_days)
        studies = lookups.patient_studies(key, MODALITIES[rule.modality].stored, start, when)
        total, counted = window_sum(rule, studies, when)
        assert rule.quantity is not None
        found.append({
            "rule": rule.name,
            "window_days": rule.window_days,
            "from": _when(start),
            "total": _number(rule.shown(total), human_unit(rule.unit)),
            "level": _number(rule.level, human_unit(rule.unit)),
            "above": rule.stored_level is not None and total > rule.stored_level,
            "studies": [
                {"study_instance_uid": s["study_instance_uid"], "date": _when(s.get("study_date_time")),
                 "description": s.get("study_description") or "", "station": (s.get("equipment") or {}).get(
                     "station_name") or "",
                 "value": _number(_value_of(rule, s), human_unit(rule.unit))}
                for s in counted
            ],
        })  # fmt: skip
    return found


def _value_of(rule: Any, study: dict[str, Any]) -> float | None:
    """Return one study's share of a cumulative sum, in the rule's unit."""
    if rule.quantity.ucum == "{studies}":
        return 1
    value = rule.quantity.value(study.get("summary") or {})
    return None if value is None else rule.shown(value)
