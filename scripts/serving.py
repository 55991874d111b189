"""Bind the web service's port for ``doseledger serve``, refusing a port in use as a configuration error.

Werkzeug's own ``make_server`` prints a message and exits 1 when the port is
taken; the command line's configuration errors exit 2 (README, "Command
line"), as the Storage SCP's port clash does. So the socket is bound here
first and handed to Werkzeug, before the database or the SCP is started.
"""

from __future__ import annotations

import errno
import os
import socket

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from service.errors import ConfigurationError


def web_server(host: str, port: int, app: Flask) -> BaseWSGIServer:
    """Return a threaded server for ``app`` listening on ``host:port``; raise ConfigurationError if it cannot."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        listening = socket.create_server((host, port), family=family, backlog=socket.SOMAXCONN)
    except OSError as e:
        raise ConfigurationError(_cannot_listen(host, port, e)) from None
    try:
        return make_server(host, port, app, threaded=True, fd=listening.fileno())  # Werkzeug keeps a copy
    finally:
        listening.close()


def _cannot_listen(host: str, port: int, error: OSError) -> str:
    """Say why the web service cannot listen, and what to change."""
    reason = os.strerror(error.errno) if error.errno else str(error)
    where = f"The web service cannot listen on {host}:{port} ({reason})"
    if error.errno == errno.EADDRINUSE:
        return (
            f"{where}: another program (another `doseledger serve`, perhaps) uses port {port}. "
            "Stop it, or choose another port with DOSELEDGER_PORT (or --port)."
        )
    return f"{where}; check DOSELEDGER_HOST (or --host) and DOSELEDGER_PORT (or --port)."
