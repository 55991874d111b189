"""Security headers on every answer: a Content-Security-Policy of the service's own files, no sniffing, no framing.

The pages load only DoseLedger's own scripts and styles (ECharts is vendored
under ``static/vendor``); no template has an inline script, style element or
style attribute (JSON data blocks, ``<script type="application/json">``, are not
run and need no allowance). Images may be ``data:`` URLs: the favicon, and the
PNGs ECharts saves.
"""

from __future__ import annotations

from flask import Flask, Response

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def add_headers(response: Response) -> Response:
    """Add the security headers to ``response`` (a route may have set its own)."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    """Add the headers to every answer of ``app``."""
    app.after_request(add_headers)
