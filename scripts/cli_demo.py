"""``doseledger demo [--remove] [--example-dir DIR]``: demonstration studies to look at, removed with one command.

``doseledger demo`` adds generated studies of every list modality, marked as
test patients (:mod:`service.demo`), and writes an example CT dose report to
``var/demo/demo-ct-report.dcm`` for a first import; ``doseledger demo
--remove`` removes the studies (the example's too, once imported) and the
example file. Each study added or removed is logged in the event log.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any

from scripts.cli_common import client, program
from service.config import Settings
from service.modalities import MODALITIES

#: where the example dose report is written unless --example-dir says otherwise (beside var/db)
EXAMPLE_DIR = Path("var/demo")
EXAMPLE_NAME = "demo-ct-report.dcm"


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Add the demonstration studies and write the example report, or remove them both."""
    from service.storage import open_store

    store = open_store(settings)
    try:
        if args.remove:
            _remove(store, args.example_dir)
        else:
            _add(store, args.example_dir, settings)
    finally:
        store.close()
    return 0


def _counts(documents: list[dict[str, Any]]) -> str:
    """Say how many studies each list shows: ``CT 67, RF 24, ...``."""
    from service.demo import per_modality

    counted = per_modality(documents)
    return ", ".join(f"{key} {counted[key]}" for key in MODALITIES if counted[key])


def _add(store: Any, folder: Path, settings: Settings) -> None:
    """Add the studies unless they are there, write the example, and say where to look next."""
    from service.demo import add_demo, demo_present

    me, present = program(), demo_present(store)
    if present:
        print(f"The {len(present)} demonstration studies are already there ({_counts(present)}); nothing was added.")
    else:
        added = add_demo(store, now=datetime.now(), client=client())
        print(
            f"Added {len(added)} demonstration studies ({_counts(added)}) dated over the last four months, "
            "all marked as test patients: the lists show them marked 'test'; exports and audits leave them "
            "out unless asked (test_patients=include or only)."
        )
    path = _write_example(folder, settings)
    url = f"http://{settings.host}:{settings.port}"
    print(f"Wrote an example CT dose report to {path}; import it with: {me} import {path}")
    print(f"Look at them at {url}/ (with `make run` serving) and their audits at {url}/audits?test_patients=only")
    print(f"Remove them all with: {me} demo --remove")


def _write_example(folder: Path, settings: Settings) -> Path:
    """Write the example CT dose report, its patient ID made of the not-patient patterns; warn if none matches."""
    from service.demo.rdsr import example_report
    from service.extract import extract
    from service.ingest.dicomfile import read_dataset

    words = [p.upper() for p in settings.not_patient_patterns if not any(ch in p for ch in "*?[")]
    data = example_report(datetime.now(), "-".join(["DEMO", *words]))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / EXAMPLE_NAME
    path.write_bytes(data)
    patient = extract(read_dataset(data, str(path)), not_patient_patterns=settings.not_patient_patterns)["patient"]
    if not patient.get("not_patient_indicator"):
        print(
            "Note: the example's patient matches none of DOSELEDGER_NOT_PATIENT_PATTERNS, so its import will "
            "not be marked as a test patient, and `demo --remove` will leave it."
        )
    return path


def _remove(store: Any, folder: Path) -> None:
    """Remove the demonstration studies and the example file, or say there are none."""
    from service.demo import remove_demo

    removed = remove_demo(store, client=client())
    if removed:
        print(f"Removed {len(removed)} demonstration studies ({_counts(removed)}); the event log records each.")
    else:
        print(f"There are no demonstration studies to remove; add them with: {program()} demo")
    example = folder / EXAMPLE_NAME
    if example.exists():
        example.unlink()
        print(f"Deleted the example dose report {example}.")


def add_parsers(sub: Any) -> None:
    """Add ``doseledger demo`` to the command line."""
    demo = sub.add_parser(
        "demo",
        help="add demonstration studies of every modality (marked as test patients), or remove them",
        description="Add generated demonstration studies (CT, RF, DX, MG, NM) marked as test patients, and write "
        "an example CT dose report to import; --remove removes them. Each is logged in the event log.",
    )
    demo.add_argument("--remove", action="store_true", help="remove every demonstration study and the example file")
    demo.add_argument(
        "--example-dir",
        type=Path,
        default=EXAMPLE_DIR,
        metavar="DIR",
        help=f"folder of the example dose report (default {EXAMPLE_DIR})",
    )
    demo.set_defaults(func=cmd_demo)
