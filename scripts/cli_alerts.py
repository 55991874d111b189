"""``doseledger alert-rules`` and ``doseledger alerts``: the rule table, the alerts, evaluating a period again.

Usage::

    doseledger alert-rules list
    doseledger alert-rules load FILE.json          (replace the whole table: rules and routes)
    doseledger alerts list [--state open] [--modality RF] [--station CATH1] [--limit 100]
    doseledger alerts evaluate --from 2026-01-01 [--to 2026-03-31]
    doseledger alerts send                         (deliver the notifications due now, once)

Listings print one tab-separated row per entry on standard output; what a
command did, or that there is nothing, goes there too as a sentence.
"""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from schemas.alert_rules import read_alert_rules
from scripts.cli_common import client, program
from service.alerts.records import STATES, alert_filter, raise_alerts
from service.alerts.rules import public_table, replace_rules
from service.config import Settings
from service.modalities import MODALITIES
from service.storage import Store, opened_store


def _describe(rule: dict[str, Any]) -> str:
    """Say in a few words when a rule alerts."""
    kind = rule["kind"]
    if kind == "dose_check":
        return f"CT Dose Check {rule['check']}"
    if kind == "reference_multiple":
        return f"{rule['quantity']} > {rule['multiple']:g} x reference level"
    window = f" over {rule.get('window_days', 84)} days" if kind == "cumulative" else ""
    return f"{rule['quantity']}{window} > {rule['level']:g} {rule['unit']}"


def cmd_alert_rules(args: argparse.Namespace, settings: Settings) -> int:
    """List the rule table in force, or load a new one from a JSON file."""
    with opened_store(settings) as store:
        if args.action == "load":
            table = read_alert_rules(Path(args.file).read_bytes())
            saved = replace_rules(store, table, via="cli", client=client())
            print(
                f"Loaded {len(table['rules'])} rules and {len(table['routes'])} routes from {args.file} "
                f"(version {saved['version']}); alerts raised before stay. To run the new rules over past "
                f"studies: {program()} alerts evaluate --from YYYY-MM-DD"
            )
        table = public_table(store)
    for rule in table["rules"]:
        stations = ",".join(rule["stations"]) or "all stations"
        state = "" if rule["enabled"] else "\t(off)"
        print(f"{rule['name']}\t{rule['kind']}\t{rule['modality']}\t{stations}\t{_describe(rule)}{state}")
    for route in table["routes"]:
        every = {"rules": "every rule", "modalities": "every modality", "stations": "every station"}
        scope = [", ".join(route[key]) or every[key] for key in every]
        print(f"route\t{', '.join(route['recipients'])}\t{'; '.join(scope)}")
    if not table["rules"]:
        print(f"No alert rules: nothing raises an alert. Load a table with {program()} alert-rules load FILE.json")
    elif not table["routes"]:
        print("No routes: alerts are listed (/alerts, doseledger alerts list) and sent to no one.")
    return 0


def cmd_alerts(args: argparse.Namespace, settings: Settings) -> int:
    """List alerts, run the rules over a period again, or deliver due notifications."""
    with opened_store(settings) as store:
        if args.action == "evaluate":
            return _evaluate(store, args.date_from, args.date_to)
        if args.action == "send":
            return _send(store, settings)
        alerts = store.find_alerts(alert_filter(args.state, args.modality, args.station), limit=args.limit)
    for alert in alerts:
        when = alert["study_date_time"].strftime("%Y-%m-%d %H:%M") if alert.get("study_date_time") else "(no date)"
        print("\t".join([
            alert["_id"], alert["state"], alert["rule"], alert["modality"], alert.get("station_name") or "", when,
            f"{alert['value']:g} {alert['unit'] or ''}".strip(), alert["study_instance_uid"],
        ]))  # fmt: skip
    if not alerts:
        print("No alerts match." if (args.state or args.modality or args.station) else "No alerts yet.")
    return 0


def _evaluate(store: Store, start: datetime, end: datetime | None) -> int:
    """Run the rules in force over the studies dated from ``start`` (to ``end``, inclusive); say what was raised."""
    dates: dict[str, Any] = {"$gte": start}
    if end is not None:
        dates["$lt"] = end + timedelta(days=1)
    studies, raised = 0, Counter[str]()
    who = client()
    for document in store.iter_studies({"study_date_time": dates}, sort=[("study_date_time", 1)], fields={"_id": 0}):
        studies += 1
        entries = raise_alerts(store, document, via="cli", client=who)
        store.append_events(entries)
        raised.update(entry["details"]["rule"] for entry in entries)
    period = f"from {start:%Y-%m-%d}" + (f" to {end:%Y-%m-%d}" if end else "")
    if not studies:
        print(f"No studies are dated {period}; nothing was evaluated.")
        return 0
    found = ", ".join(f"{rule}: {count}" for rule, count in sorted(raised.items()))
    print(f"Evaluated the alert rules over {studies} studies dated {period}: {sum(raised.values())} new alerts"
          + (f" ({found})." if found else " (studies already alerted keep their alert)."))  # fmt: skip
    return 0


def _send(store: Store, settings: Settings) -> int:
    """Deliver the notifications due now, once; say what happened."""
    from service.alerts.outbox import Notifier

    done = Notifier(store, settings).run_once()
    print(f"Notifications: {done['sent']} sent, {done['failed']} failed (retried later), "
          f"{done['waiting']} waiting in the outbox.")  # fmt: skip
    return 0


def _date(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write YYYY-MM-DD") from None


def add_parsers(sub: Any) -> None:
    """Add the alert commands to the ``doseledger`` parser."""
    rules = sub.add_parser("alert-rules", help="list the alert rules, or load a new table of them")
    actions = rules.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="list the rules and routes (tab-separated)")
    load = actions.add_parser("load", help="replace the whole table with a JSON file {rules: [...], routes: [...]}")
    load.add_argument("file", metavar="FILE")
    rules.set_defaults(func=cmd_alert_rules)
    alerts = sub.add_parser("alerts", help="list alerts, run the rules over a period again, send notifications")
    actions = alerts.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="list alerts, newest first (tab-separated)")
    listing.add_argument("--state", choices=STATES)
    listing.add_argument("--modality", choices=list(MODALITIES))
    listing.add_argument("--station", help="the station name, exactly")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    evaluate = actions.add_parser("evaluate", help="run the rules in force over the studies of a period")
    evaluate.add_argument("--from", dest="date_from", type=_date, required=True, metavar="YYYY-MM-DD")
    evaluate.add_argument("--to", dest="date_to", type=_date, metavar="YYYY-MM-DD", help="inclusive (default: all)")
    actions.add_parser("send", help="deliver the notifications due now, once (doseledger serve does it all along)")
    alerts.set_defaults(func=cmd_alerts)
