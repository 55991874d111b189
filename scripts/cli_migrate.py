"""``doseledger migrate [--check]``: upgrade stored study documents to the schema version of this release.

Run it after an upgrade (the service also upgrades each study it writes);
running it again changes nothing. ``--check`` only counts the documents an
upgrade would change, and exits 1 when there are some.
"""

from __future__ import annotations

import argparse

from schemas.versions import SCHEMA_VERSION
from scripts.cli_common import client
from service.config import Settings

EXIT_FAILED = 1


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Upgrade older study documents (or, with --check, count them)."""
    from service.migrate import count_off_version, migrate
    from service.storage import open_store

    store = open_store(settings)
    try:
        total = store.count_studies()
        if args.check:
            older, newer = count_off_version(store), count_off_version(store, newer=True)
            print(f"{older} of {total} studies are older than schema version {SCHEMA_VERSION}, {newer} newer.")
            return EXIT_FAILED if older or newer else 0
        migration = migrate(store, via="cli", client=client())
    finally:
        store.close()
    print(migration.summary(total))
    for uid, why in migration.failed:
        print(f"failed: {uid}: {why}")
    return 0 if migration.ok else EXIT_FAILED


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Describe ``doseledger migrate``."""
    parser = sub.add_parser("migrate", help="upgrade stored study documents to this release's schema version")
    parser.add_argument("--check", action="store_true", help="only count the documents an upgrade would change")
    parser.set_defaults(func=cmd_migrate)
