"""``doseledger echo``: send C-ECHO to the Storage SCP (the container health check), exit 0 when it answers.

Usage::

    doseledger echo [--host H] [--port P] [--ae-title T] [--calling-ae-title C]

Host, port, AE title and TLS default to this machine's SCP settings
(``DOSELEDGER_SCP_*``; an SCP bound to all interfaces is reached on
127.0.0.1). With an allow-list, allow the calling AE title (default
``HEALTHCHECK``) from 127.0.0.1.
"""

from __future__ import annotations

import argparse
import sys

from service.config import Settings

EXIT_NO_ANSWER = 1
CALLING_AE_TITLE = "HEALTHCHECK"


def cmd_echo(args: argparse.Namespace, settings: Settings) -> int:
    """Send C-ECHO and say what came back."""
    from service.dicomnet.echo import echo
    from service.dicomnet.tls import client_context

    host = args.host or ("127.0.0.1" if settings.scp_host in ("0.0.0.0", "::") else settings.scp_host)
    result = echo(
        host,
        args.port or settings.scp_port,
        ae_title=args.ae_title or settings.scp_ae_title,
        calling=args.calling_ae_title,
        tls=client_context(settings),
    )
    print(result.message, file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else EXIT_NO_ANSWER


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Describe ``doseledger echo``."""
    parser = sub.add_parser("echo", help="send C-ECHO to the DICOM Storage SCP (health check)")
    parser.add_argument("--host", help="address of the SCP (default: this machine's SCP)")
    parser.add_argument("--port", type=int, help="port of the SCP (default DOSELEDGER_SCP_PORT or 11112)")
    parser.add_argument("--ae-title", help="called AE title (default DOSELEDGER_SCP_AE_TITLE or DOSELEDGER)")
    parser.add_argument(
        "--calling-ae-title", default=CALLING_AE_TITLE, help=f"calling AE title (default {CALLING_AE_TITLE})"
    )
    parser.set_defaults(func=cmd_echo)
