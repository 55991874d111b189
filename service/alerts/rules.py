"""The rule table in force: read from the store (the shipped defaults at first use), compiled for evaluation.

The table is data (:mod:`schemas.alert_rules`): an administrator replaces it
whole. The first time a process needs it and none is stored, the defaults of
``default_rules.json`` are stored (version 1), so what is in force is always
what ``GET /api/alert-rules`` shows. Compiling converts each level to the unit
the study document stores its quantity in, once per version of the table.
"""

from __future__ import annotations

import json
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from schemas.alert_rules import WINDOW_DAYS, parse_alert_rules
from service.alerts.quantities import STUDIES, Quantity, quantities_for, ucum
from service.modalities import MODALITIES
from service.storage.connection import utcnow
from service.units import convert

DEFAULTS = Path(__file__).resolve().parent / "default_rules.json"
#: what GET /api/alert-rules shows of the stored table
PUBLIC_FIELDS = ("rules", "routes", "version", "updated_at", "updated_by")


class RuleStore(Protocol):
    """What the rules need of the store."""

    def alert_table(self, *, fresh: bool = False) -> dict[str, Any] | None:
        """Return the stored table."""

    def seed_alert_table(self, table: dict[str, Any]) -> None:
        """Store a table unless there is one."""

    def replace_alert_table(self, table: dict[str, Any]) -> int:
        """Replace the table; return its version."""

    def append_event(self, type: str, **fields: Any) -> int:
        """Append an event-log entry."""


@dataclass(frozen=True)
class Rule:
    """One rule, its level in the unit the study document stores the quantity in."""

    name: str
    kind: str
    modality: str
    stations: frozenset[str]
    enabled: bool
    quantity: Quantity | None
    level: float | None  # as given
    unit: str | None  # as given
    stored_level: float | None  # in quantity.ucum
    multiple: float | None = None
    window_days: int = WINDOW_DAYS
    check: str | None = None

    def applies_to(self, document: dict[str, Any]) -> bool:
        """Tell whether this rule looks at ``document``: enabled, its modality, one of its stations."""
        if not self.enabled or MODALITIES[self.modality].stored not in (document.get("modalities") or ()):
            return False
        return not self.stations or (document.get("equipment") or {}).get("station_name") in self.stations

    def shown(self, value: float) -> float:
        """Return a value in the document's unit converted to the unit the rule was given in."""
        if self.quantity is None or self.unit is None or self.quantity.ucum == STUDIES:
            return value
        return convert(value, self.quantity.ucum, ucum(self.unit))


@dataclass(frozen=True)
class Rules:
    """A compiled table: its version, rules and routes."""

    version: int
    rules: tuple[Rule, ...]
    routes: tuple[dict[str, Any], ...]


def compile_rule(data: dict[str, Any]) -> Rule:
    """Return the :class:`Rule` of one validated rule."""
    quantity = quantities_for(data["kind"], data["modality"]).get(data.get("quantity", ""))
    level, unit = data.get("level"), data.get("unit")
    stored = level
    if quantity is not None and level is not None and unit is not None and quantity.ucum != STUDIES:
        stored = convert(level, ucum(unit), quantity.ucum)
    return Rule(
        name=data["name"],
        kind=data["kind"],
        modality=data["modality"],
        stations=frozenset(data.get("stations") or ()),
        enabled=data.get("enabled", True),
        quantity=quantity,
        level=level,
        unit=unit,
        stored_level=stored,
        multiple=data.get("multiple"),
        window_days=data.get("window_days", WINDOW_DAYS),
        check=data.get("check"),
    )


def default_table() -> dict[str, Any]:
    """Return the shipped default rules (validated)."""
    return parse_alert_rules(json.loads(DEFAULTS.read_text(encoding="utf-8")))


def audit_levels(table: dict[str, Any]) -> dict[str, Any]:
    """Return the enabled study-total rules as the high-dose audit's levels (summary units), by rule name."""
    levels: dict[str, Any] = {}
    for data in table["rules"]:
        rule = compile_rule(data)
        if rule.kind != "study_total" or not rule.enabled or rule.quantity is None:
            continue
        levels[rule.name] = {
            "modalities": [MODALITIES[rule.modality].stored],
            "stations": sorted(rule.stations),
            "levels": dict.fromkeys(rule.quantity.fields, rule.stored_level),
        }
    return levels


#: per store, the table it last returned and its compiled form (recompiled when the store reads it again)
_compiled: weakref.WeakKeyDictionary[Any, tuple[dict[str, Any], Rules]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def current_rules(store: RuleStore) -> Rules:
    """Return the compiled table in force (storing the defaults if there is none yet)."""
    table = store.alert_table()
    if table is None:
        store.seed_alert_table(stored_form(default_table(), by="DoseLedger (the shipped defaults)", at=None))
        table = store.alert_table(fresh=True)
        assert table is not None
    with _lock:
        known = _compiled.get(store)
        if known is not None and known[0] is table:
            return known[1]
        rules = Rules(table["version"], tuple(compile_rule(r) for r in table["rules"]), tuple(table["routes"]))
        _compiled[store] = (table, rules)
    return rules


def stored_form(table: dict[str, Any], *, by: str, at: Any) -> dict[str, Any]:
    """Return what is stored of a validated table: itself, the audit levels, who changed it and when."""
    return {"rules": table["rules"], "routes": table["routes"], "audit_levels": audit_levels(table),
            "updated_by": by, "updated_at": at}  # fmt: skip


def public_table(store: RuleStore) -> dict[str, Any]:
    """Return the table in force as ``GET /api/alert-rules`` shows it."""
    current_rules(store)
    table = store.alert_table(fresh=True) or {}
    return {key: table.get(key) for key in PUBLIC_FIELDS}


def audit_levels_in_force(store: RuleStore) -> dict[str, Any]:
    """Return the audit levels of the table in force (see :func:`audit_levels`)."""
    current_rules(store)
    levels: dict[str, Any] = (store.alert_table() or {}).get("audit_levels") or {}
    return levels


def replace_rules(store: RuleStore, table: dict[str, Any], *, via: str, client: str) -> dict[str, Any]:
    """Put a validated table in force, log who did it, and return it as ``GET /api/alert-rules`` shows it.

    Alerts already raised stay; ``doseledger alerts evaluate --from DATE`` runs the new rules over a period.
    """
    version = store.replace_alert_table(stored_form(table, by=client, at=utcnow()))
    names = [rule["name"] for rule in table["rules"]]
    store.append_event(
        "alert-rules", via=via, client=client, outcome="replaced",
        message=f"Alert rules replaced (version {version}): {len(names)} rules, {len(table['routes'])} routes.",
        details={"version": version, "rules": names},
    )  # fmt: skip
    return public_table(store)
