"""``doseledger standard-names`` and ``doseledger reference-levels``: the audits' own tables.

Usage::

    doseledger standard-names list [--modality CT]
    doseledger standard-names add CT acquisition_protocol "HEAD ROUTINE" "Head"
    doseledger standard-names delete CT acquisition_protocol "HEAD ROUTINE"
    doseledger reference-levels [FILE.csv|FILE.json]   (load a DRL table; without FILE, list it)

Listings print one tab-separated row per entry (for scripts) on standard
output; what a command did, or that there is nothing yet, goes there too as a
sentence.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from schemas.audits import parse_name_modality, parse_reference_levels, parse_standard_name
from scripts.cli_common import program
from service.audits.pipeline import name_fields
from service.config import Settings
from service.errors import NotFound
from service.storage import STANDARD_NAME_KEY, Store, opened_store

ADD_EXAMPLE = 'doseledger standard-names add CT acquisition_protocol "HEAD ROUTINE" "Head"'
LEVELS_EXAMPLE = "{program} reference-levels drl.csv (a header row name,quantity,value,unit)"


def cmd_standard_names(args: argparse.Namespace, settings: Settings) -> int:
    """List, add or delete standard-name mappings, saying what was done."""
    with opened_store(settings) as store:
        if args.action == "list":
            return _list_names(store, parse_name_modality(args.modality))
        mapping = parse_standard_name({key: getattr(args, key) for key in (*STANDARD_NAME_KEY, "standard")})
        where = f"{mapping['raw']!r} ({mapping['modality']} {mapping['field']})"
        if args.action == "add":
            store.set_standard_name(mapping)
            print(
                f"Mapped {where} to the standard name {mapping['standard']!r}; audits and exports use it from now on."
            )
        elif store.delete_standard_name(mapping):
            print(f"Deleted the standard name of {where}; audits group it under its raw name again.")
        else:
            raise NotFound(f"There is no standard name for {where}; `doseledger standard-names list` shows them.")
    return 0


def _list_names(store: Store, modality: str | None) -> int:
    """Print the mappings (of one modality), or say there are none yet."""
    rows = store.standard_names(modality)
    for row in rows:
        print("\t".join(row[key] for key in (*STANDARD_NAME_KEY, "standard")))
    if not rows:
        which = f"for {modality} " if modality else ""
        example = ADD_EXAMPLE.replace("doseledger", program(), 1)
        print(f"No standard names {which}yet; add one with {example}.")
    return 0


def cmd_reference_levels(args: argparse.Namespace, settings: Settings) -> int:
    """Load a DRL table, or list the one loaded; say what was done, or that there is none yet."""
    with opened_store(settings) as store:
        if args.file is not None:
            kind = "json" if args.file.suffix.lower() == ".json" else "csv"
            levels = parse_reference_levels(args.file.read_bytes(), kind=kind)
            store.replace_reference_levels(levels)
            print(f"Loaded {len(levels)} reference levels from {args.file} (replacing the table there was):")
        levels = store.reference_levels()
        for level in levels:
            print(f"{level['name']}\t{level['quantity']}\t{level['value']:g} {level['unit']}")
    if not levels:
        print(f"No reference levels yet; load a table with {LEVELS_EXAMPLE.format(program=program())}.")
    return 0


def _fields_help() -> str:
    """Say which fields each modality's names can be mapped in."""
    return "; ".join(f"{modality}: {', '.join(fields)}" for modality, fields in name_fields().items())


def _add_name_arguments(parser: argparse.ArgumentParser, *, standard: bool) -> None:
    """Describe the positional arguments of ``standard-names add`` and ``delete``."""
    parser.add_argument("modality", metavar="MODALITY", help=", ".join(name_fields()))
    parser.add_argument("field", metavar="FIELD", help=f"the field whose names are mapped ({_fields_help()})")
    parser.add_argument(
        "raw",
        metavar="RAW",
        help="the name exactly as the modality sends it (case and spaces count; a view or radiopharmaceutical "
        "by its code meaning, a radiopharmaceutical sent without a code by its text)",
    )
    if standard:
        parser.add_argument("standard", metavar="STANDARD", help="the name audits group it under")
    else:
        parser.set_defaults(standard="-")  # not needed to delete; the schema wants one


def add_parsers(sub: Any) -> None:
    """Add the audit commands to the ``doseledger`` parser."""
    names = sub.add_parser("standard-names", help="list, add or delete the standard names audits can group by")
    actions = names.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="list the mappings (tab-separated: modality, field, raw, standard)")
    listing.add_argument("--modality", help="only this modality's (CT, RF, DX, MG, NM)")
    add = actions.add_parser("add", help="map a raw name to a standard name", epilog=f"Example: {ADD_EXAMPLE}")
    _add_name_arguments(add, standard=True)
    _add_name_arguments(actions.add_parser("delete", help="delete a raw name's mapping"), standard=False)
    names.set_defaults(func=cmd_standard_names)
    levels = sub.add_parser("reference-levels", help="load a table of diagnostic reference levels, or list it")
    levels.add_argument("file", nargs="?", type=Path, help="CSV or JSON rows: name, quantity, value, unit")
    levels.set_defaults(func=cmd_reference_levels)
