"""WSGI entry point for production servers: ``gunicorn service.wsgi:app``.

Requires ``MONGODB_URI``: several worker processes cannot share one embedded
database, so production always points at a MongoDB.
"""

from __future__ import annotations

import logging

from service import create_app
from service.config import load_settings
from service.errors import ConfigurationError

if load_settings().mongodb_uri is None:
    raise ConfigurationError(
        "MONGODB_URI is not set. The WSGI entry point serves a MongoDB deployment; "
        "set MONGODB_URI (for example mongodb://mongo:27017/), "
        "or run `doseledger serve` for the embedded database."
    )

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
app = create_app()
