"""``doseledger standard-names`` and ``doseledger reference-levels``: the audits' own tables.

Usage::

    doseledger standard-names list [--modality CT]
    doseledger standard-names add CT acquisition_protocol "HEAD ROUTINE" "Head"
    doseledger standard-names delete CT acquisition_protocol "HEAD ROUTINE"
    doseledger reference-levels [FILE.csv|FILE.json]   (load a DRL table; without FILE, list it)
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from schemas.audits import parse_name_modality, parse_reference_levels, parse_standard_name
from service.config import Settings
from service.errors import NotFound
from service.storage import STANDARD_NAME_KEY, opened_store


def cmd_standard_names(args: argparse.Namespace, settings: Settings) -> int:
    """List, add or delete standard-name mappings."""
    with opened_store(settings) as store:
        if args.action == "list":
            for row in store.standard_names(parse_name_modality(args.modality)):
                print("\t".join(row[key] for key in (*STANDARD_NAME_KEY, "standard")))
            return 0
        mapping = parse_standard_name({key: getattr(args, key) for key in (*STANDARD_NAME_KEY, "standard")})
        if args.action == "add":
            store.set_standard_name(mapping)
        elif not store.delete_standard_name(mapping):
            raise NotFound(f"There is no standard name for {args.raw!r} ({args.modality} {args.field}).")
    return 0


def cmd_reference_levels(args: argparse.Namespace, settings: Settings) -> int:
    """Load a DRL table, or list the one loaded."""
    with opened_store(settings) as store:
        if args.file is not None:
            kind = "json" if args.file.suffix.lower() == ".json" else "csv"
            store.replace_reference_levels(parse_reference_levels(args.file.read_bytes(), kind=kind))
        for level in store.reference_levels():
            print(f"{level['name']}\t{level['quantity']}\t{level['value']:g} {level['unit']}")
    return 0


def add_parsers(sub: Any) -> None:
    """Add the audit commands to the ``doseledger`` parser."""
    names = sub.add_parser("standard-names", help="list, add or delete the standard names audits can group by")
    actions = names.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="list the mappings")
    listing.add_argument("--modality", help="only this modality's (CT, RF, DX, MG, NM)")
    for action, text in (("add", "map a raw name to a standard name"), ("delete", "delete a raw name's mapping")):
        parser = actions.add_parser(action, help=text)
        for key in STANDARD_NAME_KEY:
            parser.add_argument(key)
        if action == "add":
            parser.add_argument("standard")
        else:
            parser.set_defaults(standard="-")  # not needed to delete; the schema wants one
    names.set_defaults(func=cmd_standard_names)
    levels = sub.add_parser("reference-levels", help="load a table of diagnostic reference levels, or list it")
    levels.add_argument("file", nargs="?", type=Path, help="CSV or JSON rows: name, quantity, value, unit")
    levels.set_defaults(func=cmd_reference_levels)
