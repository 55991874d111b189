"""What the ``doseledger`` commands share: who runs them, for the event log."""

from __future__ import annotations

import getpass
import socket


def client() -> str:
    """Return who runs this command, for the event log: ``user@host``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"
