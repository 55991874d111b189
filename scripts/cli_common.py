"""What the ``doseledger`` commands share: who runs them (for the event log), how to call them again."""

from __future__ import annotations

import contextlib
import getpass
import socket
import sys
from pathlib import Path


def client() -> str:
    """Return who runs this command, for the event log: ``user@host``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def program() -> str:
    """Return how to call ``doseledger`` again, as this run was called (``.venv/bin/doseledger`` after ``make``)."""
    called = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if called is None or called.name != "doseledger" or called.parent == Path():
        return "doseledger"
    with contextlib.suppress(ValueError):
        return str(called.resolve().relative_to(Path.cwd().resolve()))
    return str(called)
