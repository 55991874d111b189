"""The web layer: API and UI blueprints, error handlers, templates."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register sign-in, the blueprints, the error handlers and the security headers on ``app``."""
    from service.web import (
        account,
        admin,
        alerts,
        api,
        arguments,
        audits,
        auth,
        deletion,
        errors,
        exports,
        headers,
        monitoring,
        pacs,
        pacs_pages,
        pages,
        patient_sizes,
        reference,
    )

    auth.init_app(app)  # first: nothing reads a request before its credentials are checked
    app.register_blueprint(account.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(exports.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(patient_sizes.bp)
    app.register_blueprint(audits.bp)
    app.register_blueprint(deletion.bp)
    app.register_blueprint(alerts.bp)
    app.register_blueprint(pacs.bp)
    app.register_blueprint(pacs_pages.bp)
    app.register_blueprint(reference.bp)
    app.register_blueprint(monitoring.bp)
    app.before_request(arguments.check_query_string)
    errors.init_app(app)
    headers.init_app(app)
