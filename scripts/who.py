"""Who runs a command, as the event log names the command line's user."""

from __future__ import annotations

import getpass
import socket


def cli_client() -> str:
    """Return who runs this command, for the event log: ``osuser@host``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"
