"""Alerts as records: raised once per study and rule, logged, queued for their recipients, answered.

:func:`raise_alerts` runs the rules in force over a study document just written
(created or merged) and, for each finding, inserts an alert whose ``_id`` is made
of the rule and the study (:func:`alert_id`), so a growing report alerts once,
when it crosses the level, however many reports follow. Each new alert is an
event-log entry ``alert`` and one outbox entry per recipient its routes name
(none for test patients: they are listed, never sent). A cumulative rule raises
nothing when a study it sums already carries its alert: one episode, one alert.
:func:`answer` acknowledges or closes one, saying who, when and why.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from service.alerts.evaluate import Finding, evaluate
from service.alerts.rules import current_rules
from service.audits.names import StandardNames
from service.errors import Conflict, InvalidArgument, NotFound
from service.modalities import MODALITIES
from service.storage import Store, event_entry, utcnow

#: the states of an alert, in the order the alerts page lists them
STATES = ("open", "acknowledged", "closed")
#: what each answer does: the states it may follow, the state it leaves, whether a comment is needed
ANSWERS = {
    "acknowledge": (("open",), "acknowledged", False),
    "close": (("open", "acknowledged"), "closed", True),
}
MAX_COMMENT = 2000


def alert_id(rule: str, study_instance_uid: str) -> str:
    """Return the id of the one alert a rule can raise on a study."""
    return hashlib.sha256(f"{rule}\x00{study_instance_uid}".encode()).hexdigest()[:24]


class StoreLookups:
    """Reference levels, standard names and a patient's studies, read from the store once per evaluation."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._levels: dict[tuple[str, str], float] | None = None
        self._names: dict[str, StandardNames] = {}

    def reference_level(self, modality: str, name_field: str, raw: Any, quantity: str) -> tuple[str, float] | None:
        """Return the (standard) name of ``raw`` and its reference level of ``quantity``, as the audits match them."""
        if not isinstance(raw, str):
            return None
        if modality not in self._names:
            self._names[modality] = StandardNames.of(modality, self.store.standard_names(modality))
        if self._levels is None:
            self._levels = {(r["name"], r["quantity"]): r["value"] for r in self.store.reference_levels()}
        name = self._names[modality].standard(name_field, raw) or raw
        level = self._levels.get((name, quantity))
        return None if level is None else (name, level)

    def patient_studies(self, key: str, stored: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Return the studies of one patient key and stored modality dated in [start, end], oldest first."""
        filter = {"patient.key": key, "modalities": stored, "study_date_time": {"$gte": start, "$lte": end}}
        fields = ("study_instance_uid", "study_date_time", "study_description", "equipment.station_name", "summary")
        return self.store.find_studies(filter, sort=[("study_date_time", 1)], limit=1000, fields=fields)


def findings(store: Store, document: dict[str, Any]) -> list[Finding]:
    """Return the findings of the rules in force on ``document``."""
    lookups = StoreLookups(store)
    found = (evaluate(rule, document, lookups) for rule in current_rules(store).rules)
    return [finding for finding in found if finding is not None]


def raise_alerts(store: Store, document: dict[str, Any], *, via: str, client: str) -> list[dict[str, Any]]:
    """Raise the new alerts of ``document``; return their event-log entries (for the caller to append)."""
    rules = current_rules(store)
    if not any(rule.applies_to(document) for rule in rules.rules):
        return []  # the common case, without a round trip
    entries = []
    for finding in findings(store, document):
        if _repeats_an_episode(store, finding, document):
            continue
        record = alert_record(finding, document, now=utcnow())
        if store.insert_alert(record):
            if not record["test_patient"]:
                store.enqueue(outbox_items(record, rules.routes))
            entries.append(_raised_entry(record, via=via, client=client))
    return entries


def _repeats_an_episode(store: Store, finding: Finding, document: dict[str, Any]) -> bool:
    """Tell whether a cumulative finding sums a study that already carries this rule's alert."""
    others = [uid for uid in finding.details.get("studies", []) if uid != document["study_instance_uid"]]
    return bool(others) and bool(store.alerts_exist([alert_id(finding.rule.name, uid) for uid in others]))


def alert_record(finding: Finding, document: dict[str, Any], *, now: datetime) -> dict[str, Any]:
    """Return the alert of a finding: rule, study, value, level, unit, when, state."""
    rule = finding.rule
    return {
        "_id": alert_id(rule.name, document["study_instance_uid"]),
        "rule": rule.name,
        "kind": rule.kind,
        "modality": rule.modality,
        "study_instance_uid": document["study_instance_uid"],
        "study_date_time": document.get("study_date_time"),
        "study_description": document.get("study_description"),
        "station_name": (document.get("equipment") or {}).get("station_name"),
        "test_patient": bool((document.get("patient") or {}).get("not_patient_indicator")),
        "value": finding.value,
        "level": finding.level,
        "unit": human_unit(finding.unit),
        "details": finding.details,
        "raised_at": now,
        "state": "open",
        "state_rank": 0,
        "history": [],
    }


def human_unit(unit: str | None) -> str | None:
    """Return a unit as people write it (``Gy·cm²``, not ``Gy.cm2``)."""
    if unit is None:
        return None
    return unit.replace(".", "·").replace("cm2", "cm²").replace("m2", "m²")


def describe(record: dict[str, Any]) -> str:
    """Say what an alert is about in one sentence (no patient data)."""
    unit = f" {record['unit']}" if record.get("unit") else ""
    level = "" if record.get("level") is None else f" (level {record['level']:g}{unit})"
    return f"{record['rule']}: {record['value']:g}{unit}{level} in study {record['study_instance_uid']}."


def _raised_entry(record: dict[str, Any], *, via: str, client: str) -> dict[str, Any]:
    return event_entry(
        "alert",
        via=via,
        client=client,
        study_instance_uid=record["study_instance_uid"],
        outcome="raised",
        message=f"Alert {describe(record)}",
        details={"alert": record["_id"], "rule": record["rule"], "value": record["value"], "level": record["level"],
                 "unit": record["unit"]},
    )  # fmt: skip


def routed(record: dict[str, Any], routes: tuple[dict[str, Any], ...]) -> list[str]:
    """Return the recipients of an alert: those of every route whose rules, modalities and stations it matches."""
    recipients: dict[str, None] = {}
    for route in routes:
        if (
            (not route.get("rules") or record["rule"] in route["rules"])
            and (not route.get("modalities") or record["modality"] in route["modalities"])
            and (not route.get("stations") or record["station_name"] in route["stations"])
        ):
            recipients.update(dict.fromkeys(route["recipients"]))
    return list(recipients)


def outbox_items(record: dict[str, Any], routes: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    """Return one outbox entry per recipient of ``record`` (each keyed by alert and recipient: queued once)."""
    now = record["raised_at"]
    return [
        {
            "_id": f"{record['_id']}:{hashlib.sha256(recipient.encode()).hexdigest()[:16]}",
            "alert": record["_id"],
            "recipient": recipient,
            "channel": "webhook" if recipient.startswith(("https://", "http://")) else "email",
            "state": "pending",
            "attempts": 0,
            "created_at": now,
            "next_at": now,
            "lease_owner": None,
            "lease_until": None,
        }
        for recipient in routed(record, routes)
    ]


def answer(store: Store, alert: str, action: str, comment: str | None, *, via: str, client: str) -> dict[str, Any]:
    """Acknowledge or close an alert (``action``), with who, when and the comment; log it; return the alert."""
    follows, state, needs_comment = ANSWERS[action]
    comment = (comment or "").strip()
    if needs_comment and not comment:
        raise InvalidArgument({"comment": [f"Say why the alert is {state}."]})
    if len(comment) > MAX_COMMENT:
        raise InvalidArgument({"comment": [f"Expected at most {MAX_COMMENT} characters."]})
    now = utcnow()
    entry = {"action": action, "by": client, "at": now, "comment": comment or None}
    changed = store.change_alert(alert, follows, {"state": state, "state_rank": STATES.index(state)}, entry)
    if changed is None:
        existing = store.get_alert(alert)
        if existing is None:
            raise NotFound(f"There is no alert {alert}.")
        raise Conflict(f"Alert {alert} is {existing['state']}; only an alert {' or '.join(follows)} can be {state}.")
    message = f"Alert {alert} {state} by {client}" + (f": {comment}" if comment else ".")
    store.append_event(
        f"alert-{state}", via=via, client=client, study_instance_uid=changed["study_instance_uid"],
        outcome=state, message=message, details={"alert": alert, "rule": changed["rule"], "comment": comment or None},
    )  # fmt: skip
    return changed


def alert_filter(state: str | None, modality: str | None, station: str | None) -> dict[str, Any]:
    """Return the store filter of an alert listing; raise :class:`InvalidArgument` naming a bad value."""
    errors = {}
    if state and state not in STATES:
        errors["state"] = [f"Expected one of {', '.join(STATES)}."]
    if modality and modality not in MODALITIES:
        errors["modality"] = [f"Expected one of {', '.join(MODALITIES)}."]
    if errors:
        raise InvalidArgument(errors)
    filter: dict[str, Any] = {}
    if state:
        filter["state"] = state
    if modality:
        filter["modality"] = modality
    if station:
        filter["station_name"] = station
    return filter
