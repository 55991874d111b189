"""``doseledger pacs``: remote PACS nodes and query/retrieve runs.

Usage::

    doseledger pacs add NAME --ae-title AET --host HOST --port PORT [--retrieve move|get] [--move-destination AET]
    doseledger pacs list
    doseledger pacs delete NAME
    doseledger pacs echo NAME
    doseledger pacs fetch NAME --from YYYY-MM-DD --to YYYY-MM-DD [--modality M]... [--station TEXT]...
                               [--exclude-station TEXT]... [--description TEXT]... [--exclude-description TEXT]...
    doseledger pacs runs [NAME]
    doseledger pacs cancel RUN
    doseledger pacs resume RUN

``fetch`` runs in the foreground with a progress bar and exits 0 when every
study was fetched, skipped (already held, or nothing to fetch) or excluded by a
filter; 1 when a study failed (the next run retries it) or the study query
itself failed; 130 when interrupted (Ctrl-C or SIGTERM cancel the run: the
studies done stay done). A node retrieved by C-MOVE sends to DoseLedger's
Storage SCP: the one of ``doseledger serve`` or ``doseledger scp`` when one
answers C-ECHO on 127.0.0.1:``DOSELEDGER_SCP_PORT``, else one this command
starts for the run. ``resume`` takes over a run whose process stopped (its
lease expired) and goes on where it stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import Any

from scripts.cli_common import client
from service.config import Settings
from service.errors import Conflict, DatabaseUnavailable, PacsError
from service.ingest.pipeline import Pipeline

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


@contextlib.contextmanager
def _pipeline(settings: Settings) -> Iterator[Pipeline]:
    from service.storage import open_store

    # these commands print what went wrong with a node; pynetdicom's log and the run's would repeat it
    logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)
    logging.getLogger("service.dicomnet.runs").setLevel(logging.ERROR)
    store = open_store(settings)
    try:
        yield Pipeline.from_settings(store, settings)
    finally:
        store.close()


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    """Add a remote node."""
    from schemas.pacs import parse_node
    from service.dicomnet.management import add_node

    fields = ("name", "ae_title", "host", "port", "retrieve", "move_destination")
    node = parse_node({name: getattr(args, name) for name in fields})
    with _pipeline(settings) as pipeline:
        add_node(pipeline.store, node, via="cli", client=client())
    print(f"Added PACS node {node.address}, retrieving by C-{node.retrieve.upper()}.")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    """List the remote nodes."""
    with _pipeline(settings) as pipeline:
        nodes = pipeline.store.pacs_nodes()
    if not nodes:
        print("There are no PACS nodes; add one with `doseledger pacs add`.")
    for node in nodes:
        destination = f" to {node['move_destination'] or settings.scp_ae_title}" if node["retrieve"] == "move" else ""
        print(
            f"{node['name']}\t{node['ae_title']}@{node['host']}:{node['port']}\tC-{node['retrieve'].upper()}{destination}"
        )
    return 0


def cmd_delete(args: argparse.Namespace, settings: Settings) -> int:
    """Delete a remote node."""
    from service.dicomnet.management import delete_node

    with _pipeline(settings) as pipeline:
        delete_node(pipeline.store, args.name, via="cli", client=client())  # NotFound names the nodes there are
    print(f"Deleted PACS node {args.name}; its runs stay listed.")
    return 0


def cmd_echo(args: argparse.Namespace, settings: Settings) -> int:
    """Send a C-ECHO to a node."""
    from service.dicomnet.management import echo_message, echo_node

    with _pipeline(settings) as pipeline:
        try:
            node, seconds = echo_node(pipeline.store, args.name, settings.scp_ae_title, settings.pacs_timeout)
        except PacsError as e:
            print(f"doseledger: {e}", file=sys.stderr)
            return EXIT_FAILED
    print(echo_message(node, seconds))
    return 0


def cmd_fetch(args: argparse.Namespace, settings: Settings) -> int:
    """Query a node and retrieve the dose objects DoseLedger lacks, in the foreground."""
    from schemas.pacs import parse_criteria
    from service.dicomnet.management import run_started
    from service.dicomnet.nodes import Node
    from service.dicomnet.runs import new_run, owner_id

    names = ("stations", "exclude_stations", "descriptions", "exclude_descriptions")
    data: dict[str, Any] = {
        "date_from": args.date_from,
        "date_to": args.date_to,
        **{n: getattr(args, n) for n in names},
    }
    if args.modalities:
        data["modalities"] = args.modalities
    criteria = parse_criteria(data)
    with _pipeline(settings) as pipeline:
        node = Node.from_document(pipeline.store.pacs_node(args.name))
        run = new_run(pipeline.store, node, criteria, trigger="cli", client=client(), owner=owner_id())
        run_started(pipeline.store, run, via="cli")
        return _execute(pipeline, settings, run, owner_id())


def cmd_resume(args: argparse.Namespace, settings: Settings) -> int:
    """Take over a run whose process stopped, and go on where it stopped."""
    from service.dicomnet.runs import LEASE, owner_id
    from service.storage import utcnow

    with _pipeline(settings) as pipeline:
        now = utcnow()
        run = pipeline.store.get_run(args.run)
        claimed = pipeline.store.claim_run(args.run, owner_id(), now, now + LEASE)
        if claimed is None:
            why = "it has ended" if not run.get("active_node") else f"process {run.get('owner')} is running it"
            raise Conflict(f"Run {args.run} cannot be resumed: {why} ({run['status']}).")
        return _execute(pipeline, settings, claimed, owner_id())


def _execute(pipeline: Pipeline, settings: Settings, run: dict[str, Any], owner: str) -> int:
    """Execute a run here with a progress bar, then print what it did and return the exit status."""
    from tqdm import tqdm

    from scripts.cli import _stop_on_signals
    from service.dicomnet.runs import Runner

    bar = tqdm(desc=f"Fetching from {run['node']}", unit="study", file=sys.stderr, disable=None)

    def progress(record: Any, counts: dict[str, Any]) -> None:
        studies = counts["studies"]
        bar.total = studies["found"]
        bar.n = studies["found"] - studies["pending"]
        bar.set_postfix(fetched=studies["fetched"], failed=studies["failed"], refresh=False)
        bar.refresh()

    runner = Runner(pipeline, settings, run, owner=owner, on_study=progress)
    with _needed_scp(pipeline, settings, runner.node.retrieve), _stop_on_signals() as stop:
        runner.stop.cancel = stop
        result = runner.execute()
    bar.close()
    return _report(pipeline, result)


@contextlib.contextmanager
def _needed_scp(pipeline: Pipeline, settings: Settings, retrieve: str) -> Iterator[None]:
    """Make sure DoseLedger's Storage SCP listens for a C-MOVE: the running one, or one started for the run."""
    from scripts.services import start_scp
    from service.dicomnet.association import echo
    from service.dicomnet.nodes import Node

    own = Node("DoseLedger", settings.scp_ae_title, "127.0.0.1", settings.scp_port)
    if retrieve != "move" or _answers(echo, own, settings):
        yield
        return
    scp = start_scp(pipeline, settings)
    try:
        yield
    finally:
        scp.stop()


def _answers(echo: Any, node: Any, settings: Settings) -> bool:
    try:
        echo(node, settings.scp_ae_title, min(settings.pacs_timeout, 5.0))
    except PacsError:
        return False
    return True


def _report(pipeline: Pipeline, run: dict[str, Any]) -> int:
    """Print what a run did and return its exit status."""
    counts, status = run["counts"], run["status"]
    objects = counts["objects"]
    print(f"Run {run['_id']} of {run['node']}: {status}. {run['message']}")
    print(
        f"Objects: {objects['requested']} requested, {objects['received']} received "
        f"({objects['rejected']} refused by ingest and kept), {objects['skipped']} already held, "
        f"{objects['failed']} did not arrive."
    )
    with contextlib.suppress(DatabaseUnavailable):
        for study in pipeline.store.run_studies(run["_id"], status="failed"):
            print(f"failed: {study['study_instance_uid']}: {study['message']}")
    if status == "completed":
        return 0
    return EXIT_INTERRUPTED if status in ("cancelled", "running") else EXIT_FAILED


def cmd_runs(args: argparse.Namespace, settings: Settings) -> int:
    """List the latest runs (of one node)."""
    with _pipeline(settings) as pipeline:
        if args.name is not None:
            pipeline.store.pacs_node(args.name)
        runs = pipeline.store.runs(args.name)
    if not runs:
        print("There are no query/retrieve runs yet; start one with `doseledger pacs fetch`.")
    for run in runs:
        studies, criteria = run["counts"]["studies"], run["criteria"]
        print(
            f"{run['_id']}\t{run['node']}\t{run['created_at']:%Y-%m-%d %H:%M}\t{run['status']}\t"
            f"{criteria['date_from']}..{criteria['date_to']}\t{studies['found']} studies, "
            f"{studies['fetched']} fetched, {studies['failed']} failed, {studies['pending']} pending"
        )
    return 0


def cmd_cancel(args: argparse.Namespace, settings: Settings) -> int:
    """Cancel a run."""
    from service.dicomnet.management import cancel_run

    with _pipeline(settings) as pipeline:
        run = cancel_run(pipeline.store, args.run, via="cli", client=client())
    if run["status"] == "cancelled":
        print(f"Cancelled run {args.run} (no process was running it).")
    else:
        print(f"Asked run {args.run} to stop; process {run.get('owner')} stops it before its next request.")
    return 0


def add_parsers(sub: Any) -> None:
    """Add ``doseledger pacs ...`` to the ``doseledger`` parser."""
    pacs = sub.add_parser("pacs", help="remote PACS nodes: add, list, delete, echo; fetch dose objects from them")
    actions = pacs.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a remote node")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--ae-title", required=True, metavar="AET", help="the node's AE title")
    add.add_argument("--host", required=True, help="its host name or IP address")
    add.add_argument("--port", required=True, type=int, help="its DICOM port")
    add.add_argument("--retrieve", choices=("move", "get"), default="move", help="C-MOVE (default) or C-GET")
    add.add_argument("--move-destination", metavar="AET", help="the AE title the node knows DoseLedger's SCP by")
    add.set_defaults(func=cmd_add)
    actions.add_parser("list", help="list the remote nodes").set_defaults(func=cmd_list)
    for name, text, func in (("delete", "delete a node", cmd_delete), ("echo", "send a node a C-ECHO", cmd_echo)):
        action = actions.add_parser(name, help=text)
        action.add_argument("name", metavar="NAME")
        action.set_defaults(func=func)
    _add_fetch_parser(actions)
    runs = actions.add_parser("runs", help="list the latest query/retrieve runs")
    runs.add_argument("name", nargs="?", metavar="NAME", help="only this node's")
    runs.set_defaults(func=cmd_runs)
    for name, text, func in (("cancel", "cancel a run", cmd_cancel), ("resume", "resume a stopped run", cmd_resume)):
        action = actions.add_parser(name, help=text)
        action.add_argument("run", metavar="RUN")
        action.set_defaults(func=func)


def _add_fetch_parser(actions: Any) -> None:
    """Describe ``doseledger pacs fetch NAME --from D --to D [filters]``."""
    fetch = actions.add_parser("fetch", help="query a node and retrieve the dose objects DoseLedger lacks")
    fetch.add_argument("name", metavar="NAME")
    fetch.add_argument("--from", dest="date_from", required=True, metavar="YYYY-MM-DD", help="first study date")
    fetch.add_argument("--to", dest="date_to", required=True, metavar="YYYY-MM-DD", help="last study date")
    options = (
        ("--modality", "modalities", "M", "modality in study (CT, RF, XA, DX, CR, MG, NM, PT, SR; default all)"),
        ("--station", "stations", "TEXT", "only studies with a station name containing TEXT"),
        ("--exclude-station", "exclude_stations", "TEXT", "leave out studies with a station name containing TEXT"),
        ("--description", "descriptions", "TEXT", "only studies whose description contains TEXT"),
        ("--exclude-description", "exclude_descriptions", "TEXT", "leave out studies whose description contains TEXT"),
    )
    for option, dest, metavar, text in options:
        fetch.add_argument(option, dest=dest, action="append", default=[], metavar=metavar, help=f"{text}; repeatable")
    fetch.set_defaults(func=cmd_fetch)
