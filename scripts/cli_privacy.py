"""``doseledger delete``, ``doseledger purge`` and ``doseledger scrub-originals``: patient privacy.

Usage::

    doseledger delete UID --reason TEXT          (one study, its originals and tallies; logged)
    doseledger purge [--before YYYY-MM-DD] [--dry-run]
                                                 (every study before the day; default: today
                                                  minus DOSELEDGER_RETENTION_YEARS)
    doseledger scrub-originals                   (remove the patient's identity from originals
                                                  kept by earlier versions; idempotent)

Each is logged in the event log with the OS user and host, like every CLI command.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime
from typing import Any

from tqdm import tqdm

from scripts.cli_common import client as _client
from service.config import Settings
from service.errors import ConfigurationError
from service.retention import delete_study, purge, retention_cutoff
from service.storage import opened_store


def cmd_delete(args: argparse.Namespace, settings: Settings) -> int:
    """Delete one study with its originals and tally counts."""
    with opened_store(settings) as store:
        deleted = delete_study(store, args.uid, reason=args.reason, via="cli", client=_client())
    print(
        f"Deleted study {deleted.study_instance_uid} with {deleted.originals} kept original(s) "
        f"(event-log entry {deleted.seq})."
    )
    return 0


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    """Delete every study before a day (default: the retention limit), or count them with --dry-run."""
    today = date.today()
    before = args.before or retention_cutoff(settings.retention_years, today)
    if before > today:
        raise ConfigurationError(f"--before {before.isoformat()} is after today; give a day in the past.")
    with opened_store(settings) as store:
        if args.dry_run:
            count = store.count_studies_before(datetime.combine(before, datetime.min.time()))
            print(f"{count} studies are dated before {before.isoformat()}; nothing was deleted (--dry-run).")
            return 0
        with tqdm(desc="Purging", unit="study", file=sys.stderr, disable=None) as bar:
            purged = purge(store, before, via="cli", client=_client(), progress=lambda deleted: bar.update())
    if purged.studies == 0:
        print(f"No study is dated before {before.isoformat()}; nothing was deleted (event-log entry {purged.seq}).")
    else:
        print(
            f"Deleted {purged.studies} studies dated before {before.isoformat()} with {purged.originals} kept "
            f"original(s) (event-log entry {purged.seq})."
        )
    return 0


def cmd_scrub_originals(args: argparse.Namespace, settings: Settings) -> int:
    """Remove the patient's identity from originals kept by earlier versions."""
    from scripts.cli import _pipeline
    from service.ingest.scrub import scrub_originals

    with _pipeline(settings) as pipeline, tqdm(desc="Scrubbing", unit="original", file=sys.stderr, disable=None) as bar:
        result = scrub_originals(pipeline, via="cli", client=_client(), progress=lambda outcome: bar.update())
    print(result.summary())
    if not result.counts:
        print("Every kept original is already without the patient's identity.")
    for sha256 in result.left:
        print(f"left as received: {sha256}")
    return 0


def _day(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a day written YYYY-MM-DD") from None


def add_parsers(sub: Any) -> None:
    """Add the privacy commands to the ``doseledger`` parser."""
    delete = sub.add_parser("delete", help="delete a study, its kept originals and its counts (logged)")
    delete.add_argument("uid", metavar="UID", help="the Study Instance UID")
    delete.add_argument("--reason", required=True, help="why (required; kept in the event log; never the patient)")
    delete.set_defaults(func=cmd_delete)
    purge_parser = sub.add_parser("purge", help="delete every study dated before a day (retention)")
    purge_parser.add_argument(
        "--before", type=_day, metavar="YYYY-MM-DD", help="the day (default: today minus DOSELEDGER_RETENTION_YEARS)"
    )
    purge_parser.add_argument("--dry-run", action="store_true", help="count the studies, delete nothing")
    purge_parser.set_defaults(func=cmd_purge)
    scrub = sub.add_parser(
        "scrub-originals", help="remove the patient's identity from originals kept by earlier versions"
    )
    scrub.set_defaults(func=cmd_scrub_originals)
