"""The web layer: API and UI blueprints, error handlers, templates."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the blueprints and the error handlers on ``app``."""
    from service.web import api, arguments, audits, errors, exports, pages, patient_sizes

    app.register_blueprint(api.bp)
    app.register_blueprint(exports.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(patient_sizes.bp)
    app.register_blueprint(audits.bp)
    app.before_request(arguments.check_query_string)
    errors.init_app(app)
