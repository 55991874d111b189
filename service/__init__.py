"""DoseLedger: a radiation-dose monitoring service."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from service.config import VARIABLES, load_settings
from service.hosts import served_hosts


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask application from the environment and an optional test mapping.

    Nothing connects here: the database is opened on first use (``get_store``),
    so building an app is cheap and a bad setting fails now, naming the variable.
    """
    from service import web
    from service.web import context
    from service.web.jsonprovider import JSONProvider
    from service.web.uploads import Request

    settings = load_settings(overrides=test_config)
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.request_class = Request
    app.json = JSONProvider(app)
    # The whole request body (one object or a multipart batch) is bounded by the
    # per-object limit; Flask refuses larger bodies before reading them. One byte
    # more is read so that a body sent without Content-Length (chunked), which
    # Werkzeug cuts silently at the limit, shows it was longer (service.web.api).
    # A form field may be as large as the body, so that a 413 of a multipart
    # request within the limit can only mean too many parts (MAX_FORM_PARTS).
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes + 1
    app.config["MAX_FORM_MEMORY_SIZE"] = settings.max_upload_bytes
    # A Host header naming another site is refused (400), so that links and
    # redirects the service builds never point elsewhere.
    app.config["TRUSTED_HOSTS"] = served_hosts(settings.trusted_hosts, settings.host)
    app.config.update({key: value for key, value in (test_config or {}).items() if key not in VARIABLES})
    logging.getLogger("service").setLevel(settings.log_level)
    context.init_app(app, settings)
    web.init_app(app)
    return app
