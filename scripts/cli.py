"""The ``doseledger`` command line: serve, scp, extract, import, reprocess, patient-sizes (export, demo: cli_*.py).

Exit status: 0 on success, 1 when an import or reprocess rejected something or
a patient-size file had unreadable rows, 2 for usage and configuration errors
(a patient-size file that cannot be used at all), 3 when the database is
unavailable, 130 when an import was interrupted (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from tqdm import tqdm

from scripts.cli_access import add_parsers as add_access_parsers
from scripts.cli_alerts import add_parsers as add_alert_parsers
from scripts.cli_audits import add_parsers as add_audit_parsers
from scripts.cli_check import add_parsers as add_check_parsers
from scripts.cli_check import recover_at_start
from scripts.cli_common import client as _client
from scripts.cli_demo import add_parsers as add_demo_parsers
from scripts.cli_echo import add_parsers as add_echo_parsers
from scripts.cli_exports import add_parsers as add_export_parsers
from scripts.cli_migrate import add_parsers as add_migrate_parsers
from scripts.cli_pacs import add_parsers as add_pacs_parsers
from scripts.cli_privacy import add_parsers as add_privacy_parsers
from service import logs
from service.config import VARIABLES, Settings, load_settings
from service.errors import ConfigurationError, DatabaseUnavailable, DoseLedgerError
from service.ingest.batch import ingest_all
from service.ingest.pipeline import OUTCOMES, Outcome, Pipeline
from service.ingest.sources import iter_sources

CLI_LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


@contextlib.contextmanager
def _pipeline(settings: Settings) -> Iterator[Pipeline]:
    """Open the store (starting the embedded database if needed) for one command."""
    from service.storage import open_store

    store = open_store(settings)
    try:
        yield Pipeline.from_settings(store, settings)
    finally:
        store.close()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM into the KeyboardInterrupt of Ctrl-C, so that both stop cleanly."""
    raise KeyboardInterrupt


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the web application, and the DICOM Storage SCP unless disabled, until interrupted."""
    from scripts.services import start_services
    from scripts.serving import web_server
    from service import create_app
    from service.access.bootstrap import first_start
    from service.alerts.outbox import Notifier
    from service.web.context import close_store, get_pipeline, get_store

    app = create_app()
    host, port = args.host or settings.host, args.port or settings.port
    server = web_server(host, port, app)  # a port in use stops here, before anything is started
    services = notifier = None
    try:
        with app.app_context():
            news = first_start(get_store(), settings)  # starts the database now, not on the first request
            pipeline = get_pipeline()  # checks the patient-key secret now, not on the first import
            recover_at_start(pipeline)
            services = start_services(pipeline, settings, scp=settings.scp_enabled)
            notifier = Notifier(get_store(), settings)  # sends the alerts' e-mails and webhooks
            notifier.start()
        print(
            (f"{news}\n\n" if news else "") + f"DoseLedger is serving on http://{host}:{server.port}/ (Ctrl-C to stop)",
            file=sys.stderr,
            flush=True,
        )
        signal.signal(signal.SIGTERM, _interrupt)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    finally:
        server.server_close()
        if services is not None:
            services.stop()
        if notifier is not None:
            notifier.stop()
        close_store(app)
    return 0


def cmd_scp(args: argparse.Namespace, settings: Settings) -> int:
    """Run the DICOM Storage SCP (and the query/retrieve scheduler) alone until interrupted."""
    from scripts.services import start_services
    from service.metrics import serve_metrics

    with (
        _pipeline(settings) as pipeline,
        serve_metrics(settings.scp_host, settings.scp_metrics_port, settings.metrics_allowed_addresses),
    ):
        recover_at_start(pipeline)
        services = start_services(pipeline, settings, port=args.port, ae_title=args.ae_title)
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
        finally:
            services.stop()
    return 0


def cmd_extract(args: argparse.Namespace, settings: Settings) -> int:
    """Print the study documents built from files as JSON; touch no database (service.ingest.preview).

    Files of one study merge into one document, exactly as an import would.
    """
    from service.ingest.preview import preview
    from service.web.jsonprovider import dumps

    documents, problems = preview(args.files, settings)
    for problem in problems:
        print(f"doseledger extract: {problem}", file=sys.stderr)
    if documents:
        print(dumps(documents[0] if len(documents) == 1 else documents, indent=2))
    return EXIT_REJECTED if problems else 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    """Import files, folders and zip files with a few workers (service.ingest.batch) and print a summary.

    The summary counts, and the rejections it lists, follow the order of the
    paths given (folder entries and zip members sorted by name), whatever the
    number of workers. Ctrl-C or SIGTERM starts no further object, lets those
    being ingested finish, prints the summary of what was done and exits 130;
    a second one stops without a summary (objects being ingested still finish).
    """
    sources = list(iter_sources(Path(p) for p in args.paths))  # names and sizes only; workers read the bytes
    if not sources:
        _summarise([])
        print(f"No objects found in {', '.join(args.paths)} (hidden files and DICOMDIR are skipped).")
        return 0
    workers = args.workers or settings.import_workers
    with _pipeline(settings) as pipeline, _stop_on_signals() as stop:
        recover_at_start(pipeline)
        outcomes = ingest_all(pipeline, sources, workers=workers, via="cli", client=_client(), stop=stop)
        done = list(tqdm(outcomes, total=len(sources), desc="Importing", unit="object", file=sys.stderr, disable=None))
    status = _summarise(done)
    if len(done) < len(sources):
        untouched = len(sources) - len(done)
        print(f"doseledger: interrupted; {untouched} of {len(sources)} objects were not imported.", file=sys.stderr)
        return EXIT_INTERRUPTED
    return status


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """Set the event returned on the first Ctrl-C or SIGTERM; a second one interrupts at once."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _interrupt)

    previous = {signum: signal.signal(signum, request_stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def cmd_reprocess(args: argparse.Namespace, settings: Settings) -> int:
    """Run extraction again over every kept original."""
    with _pipeline(settings) as pipeline:
        total = pipeline.store.count_originals()
        outcomes = list(
            tqdm(
                pipeline.reprocess(client=_client()),
                total=total,
                desc="Reprocessing",
                unit="object",
                file=sys.stderr,
                disable=None,
            )
        )
    status = _summarise(outcomes)
    print(f"Ran extraction again over {len(outcomes)} kept originals." if outcomes else _NOTHING_KEPT)
    return status


_NOTHING_KEPT = "No originals are kept yet, so there was nothing to reprocess; import with doseledger import PATH."


def cmd_patient_sizes(args: argparse.Namespace, settings: Settings) -> int:
    """Set patient heights and weights from a RIS CSV file; list rows that matched nothing."""
    from service.ingest.patient_sizes import Sender, import_sizes
    from service.ingest.ris_file import NO_SUCH_STUDY, UNREADABLE

    data = Path(args.csv).read_bytes()
    columns = (args.id_column, args.height_column, args.weight_column)
    with _pipeline(settings) as pipeline:
        result = import_sizes(
            pipeline.store,
            data,
            columns,
            Sender(args.csv, "cli", _client()),
            by_study_uid=args.si_uid,
            overwrite=args.overwrite,
            max_rows=settings.max_size_rows,
        )
    print(f"{args.csv}: {result.summary()}")
    for row in result.rows:
        if args.verbose or row.outcome in (NO_SUCH_STUDY, UNREADABLE):
            print(f"{row.outcome}: {row.message}")
    return EXIT_REJECTED if result.counts()[UNREADABLE] else 0


def _add_patient_sizes_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Describe ``doseledger patient-sizes CSV ID_COLUMN HEIGHT_COLUMN WEIGHT_COLUMN [options]``."""
    sizes = sub.add_parser(
        "patient-sizes", help="set patient heights (cm in the file) and weights (kg) from a RIS CSV file"
    )
    sizes.add_argument("csv", metavar="CSV", help="the file: a header row, then one row per study")
    sizes.add_argument("id_column", metavar="ID_COLUMN", help="column of the accession number (or Study UID)")
    sizes.add_argument("height_column", metavar="HEIGHT_COLUMN", help="column of the height in cm")
    sizes.add_argument("weight_column", metavar="WEIGHT_COLUMN", help="column of the weight in kg")
    sizes.add_argument("--si-uid", action="store_true", help="ID_COLUMN holds Study Instance UIDs")
    sizes.add_argument("--overwrite", action="store_true", help="replace heights and weights studies already have")
    sizes.add_argument("--verbose", action="store_true", help="say what every row did")
    sizes.set_defaults(func=cmd_patient_sizes)


def _summarise(outcomes: Iterable[Outcome]) -> int:
    """Print counts per outcome and the reason of every rejection; return the exit status."""
    outcomes = list(outcomes)
    counts = Counter(outcome.outcome for outcome in outcomes)
    print(", ".join(f"{counts[name]} {name}" for name in OUTCOMES))
    rejected = [outcome for outcome in outcomes if outcome.rejected]
    for outcome in rejected:
        print(f"rejected ({outcome.code}): {outcome.message}")
    return EXIT_REJECTED if rejected else 0


def _setting(variable: str) -> Callable[[str], Any]:
    """Return an option type that checks a value like the setting it overrides (service.config)."""
    parse = VARIABLES[variable][1]

    def convert(raw: str) -> Any:
        try:
            return parse("value", raw)
        except ConfigurationError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return convert


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line."""
    parser = argparse.ArgumentParser(prog="doseledger", description="Radiation-dose monitoring service.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="serve the web UI and API (embedded database when MONGODB_URI is unset)")
    serve.add_argument("--host", help="address to bind (default DOSELEDGER_HOST or 127.0.0.1)")
    serve.add_argument(
        "--port", type=_setting("DOSELEDGER_PORT"), help="port to listen on (default DOSELEDGER_PORT or 8080)"
    )
    serve.set_defaults(func=cmd_serve)
    scp = sub.add_parser("scp", help="run the DICOM Storage SCP alone (receive dose objects from modalities)")
    scp.add_argument(
        "--port", type=_setting("DOSELEDGER_SCP_PORT"), help="port to listen on (default DOSELEDGER_SCP_PORT or 11112)"
    )
    scp.add_argument(
        "--ae-title",
        type=_setting("DOSELEDGER_SCP_AE_TITLE"),
        help="AE title to answer to (default DOSELEDGER_SCP_AE_TITLE or DOSELEDGER)",
    )
    scp.set_defaults(func=cmd_scp)
    extract = sub.add_parser("extract", help="print the study documents built from files as JSON (no database)")
    extract.add_argument("files", nargs="+", metavar="FILE")
    extract.set_defaults(func=cmd_extract)
    imp = sub.add_parser("import", help="import files, folders (recursively) and zip files")
    imp.add_argument("paths", nargs="+", metavar="PATH")
    imp.add_argument(
        "--workers",
        type=_setting("DOSELEDGER_IMPORT_WORKERS"),
        help="objects ingested at once (default DOSELEDGER_IMPORT_WORKERS or 2; 1: one at a time)",
    )
    imp.set_defaults(func=cmd_import)
    reprocess = sub.add_parser("reprocess", help="run extraction again over every kept original")
    reprocess.set_defaults(func=cmd_reprocess)
    add_export_parsers(sub)
    _add_patient_sizes_parser(sub)
    add_audit_parsers(sub)
    add_demo_parsers(sub)
    add_access_parsers(sub)
    add_privacy_parsers(sub)
    add_alert_parsers(sub)
    add_pacs_parsers(sub)
    add_migrate_parsers(sub)
    add_echo_parsers(sub)
    add_check_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status."""
    args = build_parser().parse_args(argv)
    logs.configure("text", "WARNING", CLI_LOG_FORMAT)
    try:
        settings = load_settings()
        logs.configure(settings.log_format, "WARNING", CLI_LOG_FORMAT)
        logging.getLogger("service").setLevel(settings.log_level if args.command in ("serve", "scp") else "WARNING")
        return int(args.func(args, settings))
    except (ConfigurationError, OSError) as e:  # OSError: a file or folder named that cannot be read or written
        print(f"doseledger: {e}", file=sys.stderr)
        return EXIT_USAGE
    except DatabaseUnavailable as e:
        print(f"doseledger: {e}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except DoseLedgerError as e:
        print(f"doseledger: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # a second Ctrl-C during an import, or one elsewhere: objects started were finished
        print("doseledger: interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
