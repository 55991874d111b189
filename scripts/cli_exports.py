"""``doseledger export``: a modality's studies to a CSV or XLSX file, with the list's filters as options.

Usage::

    doseledger export RF -o rf.csv --date-from 2024-01-01
    doseledger export RF -o rf-events.csv --layout events   (one event per row)
    doseledger export CT -o ct.xlsx

A CSV of one study per row that would be wider than Excel's 16,384 columns is
refused, naming its width and ``--layout events``, before any file is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from scripts.cli_common import client
from service.config import Settings
from service.errors import ConfigurationError

EXPORT_FORMATS = ("csv", "xlsx")
LAYOUTS = ("study", "events")


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """Export the studies of a modality's list, filtered like the list, to a CSV or XLSX file."""
    from schemas.query import parse_study_query
    from service.export import export_bytes, start_export
    from service.storage import open_store, utcnow

    output = Path(args.output)
    fmt = args.format or output.suffix.lstrip(".").lower()
    if fmt not in EXPORT_FORMATS:
        raise ConfigurationError(f"Give --format csv or --format xlsx (the file name {output.name} does not say).")
    if args.layout == "events" and fmt != "csv":
        raise ConfigurationError(
            "--layout events is for CSV; an XLSX export has one event per row in its protocol sheets."
        )
    filters = {name: value for name, value in vars(args).items() if name in _export_filters() and value is not None}
    query = parse_study_query(filters, modality=args.modality)
    store = open_store(settings)
    partial = output.with_name(f".{output.name}.part")
    try:
        export = start_export(store, query, fmt, rows=args.layout, via="cli", client=client())
        with partial.open("wb") as target:
            for chunk in export_bytes(store, export, fmt, via="cli", client=client(), exported_at=utcnow()):
                target.write(chunk)
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
        store.close()
    rows = ", one event per row" if args.layout == "events" else ""
    print(
        f"Exported {export.studies_written} {query.modality} studies ({export.events_written} events{rows}) to {output}"
    )
    if not export.studies_written:
        print(
            f"No {query.modality} study matches the filters ({export.describe_filters()}); the file has headings only."
        )
        if args.test_patients is None:
            print("Test patients are left out unless --test-patients include (or only) asks for them.")
    for note in export.notes:
        print(f"Note: {note}.")
    return 0


def _export_filters() -> list[str]:
    """Return the list arguments that the export command takes as options (not paging, not the modality)."""
    from schemas.query import StudyQuerySchema

    return [name for name in StudyQuerySchema().fields if name not in ("modality", "page_size", "after")]


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Describe ``doseledger export MODALITY --format csv|xlsx -o FILE [--layout study|events] [filters]``."""
    from service.modalities import MODALITIES

    export = sub.add_parser(
        "export", help="export a modality's studies to CSV or XLSX, with the list's filters as options"
    )
    export.add_argument(
        "modality", type=str.upper, choices=list(MODALITIES), metavar="MODALITY", help=", ".join(MODALITIES)
    )
    export.add_argument("--format", choices=EXPORT_FORMATS, help="file format (default: the output's suffix)")
    export.add_argument("-o", "--output", required=True, metavar="FILE", help="file to write")
    export.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="study",
        help="CSV rows: one study per row, its events to the right (default), or one event per row",
    )
    for name in _export_filters():
        export.add_argument(f"--{name.replace('_', '-')}", dest=name, metavar="VALUE", help=f"as the list's {name}")
    export.set_defaults(func=cmd_export)
