"""WSGI entry point for production servers: ``gunicorn service.wsgi:app``.

Requires ``MONGODB_URI``: several worker processes cannot share one embedded
database, so production always points at a MongoDB.
"""

from __future__ import annotations

import threading

from service import create_app, logs
from service.alerts.outbox import Notifier
from service.config import load_settings
from service.errors import ConfigurationError
from service.web.context import get_settings, get_store

settings = load_settings()
if settings.mongodb_uri is None:
    raise ConfigurationError(
        "MONGODB_URI is not set. The WSGI entry point serves a MongoDB deployment; "
        "set MONGODB_URI (for example mongodb://mongo:27017/), "
        "or run `doseledger serve` for the embedded database."
    )

logs.configure(settings.log_format, "INFO")
app = create_app()
_lock = threading.Lock()


@app.before_request
def _send_notifications() -> None:
    """Start this worker process's sender of the alerts' notifications, at its first request.

    Each worker sends; the outbox's leases keep two of them from sending one notification twice.
    """
    state = app.extensions["doseledger"]
    if state.get("notifier") is None:
        with _lock:
            if state.get("notifier") is None:
                state["notifier"] = Notifier(get_store(), get_settings())
                state["notifier"].start()
