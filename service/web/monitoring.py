"""``GET /metrics``: the service's metrics for Prometheus (:mod:`service.metrics`).

Declared open (no sign-in: a scraper holds no user account, and a token with a
role would let it read studies) but answered only to the addresses in
``DOSELEDGER_METRICS_ALLOWED_ADDRESSES`` (loopback unless set), others get 403.
The metrics are counts and timings, never patient data. A reverse proxy in
front of the service must not forward ``/metrics`` (the proxy's address would
be the one seen): see the README's Production section.
"""

from __future__ import annotations

from flask import Blueprint, Response, request
from werkzeug.exceptions import Forbidden

from service import metrics
from service.access import requires
from service.web.apidoc import documented
from service.web.context import get_settings, get_store

bp = Blueprint("monitoring", __name__)

_TEXT = {"text/plain": {"type": "string", "description": "The Prometheus text exposition format"}}


def allowed(address: str | None) -> bool:
    """Tell whether ``address`` may read the metrics."""
    return metrics.address_allowed(address, get_settings().metrics_allowed_addresses)


@bp.get("/metrics")
@requires(None)
@documented(
    "operations",
    answers={200: ("Every metric, in the Prometheus text format.", _TEXT)},
    errors={403: "The client's address is not in DOSELEDGER_METRICS_ALLOWED_ADDRESSES."},
    database=False,
)
def metrics_text() -> Response:
    """Return the service's metrics (objects received, ingest latency, associations, the outbox) for Prometheus."""
    if not allowed(request.remote_addr):
        raise Forbidden(
            f"{request.remote_addr} may not read the metrics; "
            "list the Prometheus server's address in DOSELEDGER_METRICS_ALLOWED_ADDRESSES."
        )
    store = get_store()
    outbox = metrics.Outbox(store.count_outbox)
    return Response(metrics.exposition(outbox), content_type=metrics.CONTENT_TYPE)
