"""Alert-test helpers: write a study as the pipeline does (save, then raise its alerts), rule tables made short."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from schemas.alert_rules import parse_alert_rules
from service.alerts.records import raise_alerts
from service.alerts.rules import replace_rules
from service.ingest.document import save_fragment
from service.storage import Store
from tests.auditdata import NOW


def write(store: Store, fragment: dict[str, Any]) -> list[dict[str, Any]]:
    """Save a study fragment and raise its alerts as the ingest pipeline does; return the alerts' log entries."""
    document = save_fragment(store, fragment, now=NOW).document
    entries = raise_alerts(store, document, via="cli", client="tests")
    store.append_events(entries)
    return entries


def rule(name: str, kind: str, modality: str, **fields: Any) -> dict[str, Any]:
    """Return one rule of the table."""
    return {"name": name, "kind": kind, "modality": modality, **fields}


def use_rules(store: Store, *rules: dict[str, Any], routes: list[dict[str, Any]] | None = None) -> None:
    """Put a table of ``rules`` (and ``routes``) in force."""
    replace_rules(store, parse_alert_rules({"rules": list(rules), "routes": routes or []}), via="cli", client="tests")


def alerts(store: Store) -> list[dict[str, Any]]:
    """Return every alert, oldest first."""
    return list(reversed(store.find_alerts({}, limit=0)))


def key_of(name: str) -> str:
    """Return a patient key made of ``name`` (64 hex digits, as service.access.patient_key makes them)."""
    return hashlib.sha256(name.encode()).hexdigest()


def patient(name: str) -> dict[str, Any]:
    """Return the patient block of a study of the patient called ``name`` in these tests (by key only)."""
    return {"key": key_of(name), "age_years": 60.0, "sex": "M"}


def day(n: int) -> datetime:
    """Return the n-th day of 2026 at 10:00."""
    return datetime(2026, 1, 1, 10) + (datetime(2026, 1, 2) - datetime(2026, 1, 1)) * (n - 1)
