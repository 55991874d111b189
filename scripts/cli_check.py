"""``doseledger check [--no-repair]``: the store's consistency, and repairs (service.ingest.check).

Prints what was checked, each problem found and what was done about it, and
exits 0 when the store is consistent (after the repairs), 1 when something is
left (an original lost, a repair left to a write in flight), 3 when the
database is unavailable. Also :func:`recover_at_start`, which the commands
that ingest run first: writes a stopped process left half done are finished.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from scripts.cli_common import client
from service.config import Settings

if TYPE_CHECKING:
    from service.ingest.check import Findings
    from service.ingest.pipeline import Pipeline

#: problems listed one by one at most, per kind (the rest counted)
SHOWN = 20


def recover_at_start(pipeline: Pipeline) -> None:
    """Finish the writes a stopped process left half done (service.ingest.recovery), saying so on stderr."""
    from service.ingest.recovery import recover_interrupted

    for done in recover_interrupted(pipeline):
        print(f"doseledger: finished an interrupted write: {done}", file=sys.stderr, flush=True)


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    """Check the store and repair what can be derived; print the findings."""
    from service.ingest.check import check
    from service.ingest.pipeline import Pipeline
    from service.storage import open_store

    store = open_store(settings)
    try:
        found = check(Pipeline.from_settings(store, settings), repair=not args.no_repair, now=datetime.now())
        lines = report(found)
        details = {"interrupted": len(found.interrupted), "tallies": len(found.tallies),
                   "unlogged": len(found.unlogged), "lost": len(found.lost), "busy": len(found.busy)}  # fmt: skip
        outcome = "consistent" if found.consistent else "repaired" if found.repaired and not found.left else "problems"
        store.append_event("check", via="cli", client=client(), message=" ".join(lines), outcome=outcome,
                           details=details)  # fmt: skip
    finally:
        store.close()
    print("\n".join(lines))
    return 1 if found.left else 0


def report(found: Findings) -> list[str]:
    """Return what the check found and did, a sentence a line."""
    done = "repaired" if found.repaired else "not repaired (--no-repair)"
    lines = [f"Checked {found.studies:,} studies ({found.reports:,} reports) and {found.events:,} event-log entries."]
    lines += _listed(found.interrupted, "interrupted writes", "finished" if found.repaired else "not finished")
    tallies = [f"{k[0]} {k[1] or '(no station)'}: the tally says {kept[0]} studies, the studies are {right[0]}"
               for k, kept, right in found.tallies]  # fmt: skip
    lines += _listed(tallies, "tallies differ from the studies", done)
    unlogged = [f"{i['name']} ({i['outcome']} in study {i['study_instance_uid']})" for i in found.unlogged]
    lines += _listed(unlogged, "stored reports have no created/merged event-log entry", done)
    lost = [f"study {study}: original {sha} is not kept" for study, sha in found.lost]
    lines += _listed(lost, "reports' originals are lost", "cannot be repaired: the bytes are gone")
    lines += _listed(found.busy, "left to writes in flight", "run doseledger check again")
    if found.consistent and not found.busy:
        lines.append("Everything is consistent: tallies equal the studies, every report is logged and kept.")
    return lines


def _listed(items: list[str], what: str, done: str) -> list[str]:
    """Return a heading line and up to SHOWN items (nothing when there are none)."""
    if not items:
        return []
    more = [f"  ... and {len(items) - SHOWN} more"] if len(items) > SHOWN else []
    return [f"{len(items)} {what}; {done}:", *(f"  {item}" for item in items[:SHOWN]), *more]


def add_parsers(sub: Any) -> None:
    """Add ``check`` to the ``doseledger`` parser."""
    parser = sub.add_parser(
        "check", help="check that tallies, the event log and originals agree with the studies; repair what can be"
    )
    parser.add_argument("--no-repair", action="store_true", help="only report what is wrong")
    parser.set_defaults(func=cmd_check)
