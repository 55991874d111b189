"""What ``/metrics`` reports, in the Prometheus text format (prometheus-client).

- ``doseledger_objects_received_total{via, outcome}``: dose objects received
  per way in (``http``, ``dicom``, ``cli``...) and outcome (``created``,
  ``merged``, ``duplicate``, ``rejected``; ``failed`` when ingest stopped on an
  error, such as the database not answering).
- ``doseledger_ingest_seconds{via}``: a histogram of the time one object takes
  from its bytes to its event-log entries.
- ``doseledger_scp_associations_total{outcome}``: DICOM associations
  ``accepted``, ``rejected`` (allow-list, association limit) and ``aborted``;
  ``doseledger_scp_associations_open``: those open now.

- ``doseledger_notification_outbox{state}``: alert notifications waiting in the
  outbox (``pending``), and those of them already tried and failed (``retrying``),
  read from the database at each scrape, so every process reports the same numbers.

Under gunicorn, several worker processes count separately: with
``PROMETHEUS_MULTIPROC_DIR`` set (the Dockerfile sets it), prometheus-client
keeps each process's values in that folder and :func:`exposition` adds them
up (deploy/gunicorn.conf.py empties it at start and marks workers that exit).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Metric,
    generate_latest,
    make_wsgi_app,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.registry import Collector

from service.errors import DoseLedgerError

log = logging.getLogger(__name__)

OBJECTS_RECEIVED = Counter(
    "doseledger_objects_received",
    "Dose objects received, per way in and outcome.",
    ["via", "outcome"],
)
INGEST_SECONDS = Histogram(
    "doseledger_ingest_seconds",
    "Seconds to ingest one object: read, keep, extract, merge, write, log.",
    ["via"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
SCP_ASSOCIATIONS = Counter(
    "doseledger_scp_associations",
    "DICOM associations to the Storage SCP: accepted, rejected, aborted.",
    ["outcome"],
)
SCP_OPEN = Gauge(
    "doseledger_scp_associations_open",
    "DICOM associations open now.",
    multiprocess_mode="livesum",
)

CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def count_object(via: str, outcome: str, seconds: float | None) -> None:
    """Count one object received (and how long it took, when it was ingested)."""
    OBJECTS_RECEIVED.labels(via=via, outcome=outcome).inc()
    if seconds is not None:
        INGEST_SECONDS.labels(via=via).observe(seconds)


def count_association(outcome: str) -> None:
    """Count one association: ``accepted``, ``rejected`` or ``aborted``."""
    SCP_ASSOCIATIONS.labels(outcome=outcome).inc()


def watch_open_associations(count: Callable[[], int]) -> None:
    """Report ``count()`` as the open associations (the SCP's own number, read at each scrape)."""
    if not os.environ.get(MULTIPROCESS_VARIABLE):
        SCP_OPEN.set_function(count)


def address_allowed(address: str | None, networks: Iterable[str]) -> bool:
    """Tell whether ``address`` lies in one of ``networks`` (addresses or CIDR blocks)."""
    try:
        client = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(client in ipaddress.ip_network(item, strict=False) for item in networks)


class _QuietHandler(WSGIRequestHandler):
    """Answer scrapes without writing an access line to standard error for each."""

    def log_message(self, format: str, *args: Any) -> None:
        """Write nothing."""


def _guarded_app(allowed: tuple[str, ...]) -> Callable[..., Iterable[bytes]]:
    """Return prometheus-client's WSGI app answering 403 to addresses outside ``allowed``."""
    app = make_wsgi_app()

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        address = environ.get("REMOTE_ADDR")
        if address_allowed(address, allowed):
            return app(environ, start_response)
        start_response("403 Forbidden", [("Content-Type", "text/plain; charset=utf-8")])
        return [f"{address} may not read the metrics: see DOSELEDGER_METRICS_ALLOWED_ADDRESSES.\n".encode()]

    return guarded


@contextlib.contextmanager
def serve_metrics(host: str, port: int | None, allowed: Iterable[str]) -> Iterator[int | None]:
    """Serve /metrics on ``host:port`` to the ``allowed`` addresses from a thread while the block runs.

    Used by ``doseledger scp``; nothing without a port. Yields the port served (the one chosen for port 0).
    """
    if port is None:
        yield None
        return
    server = make_server(host, port, _guarded_app(tuple(allowed)), ThreadingWSGIServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    log.info("Metrics served on http://%s:%d/metrics", host, server.server_port)
    try:
        yield int(server.server_port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class Outbox(Collector):
    """The notification outbox's depth, counted by ``count(filter)`` when scraped (nothing when it cannot be read)."""

    #: label -> the outbox entries it counts
    STATES: ClassVar[dict[str, dict[str, Any]]] = {
        "pending": {"state": "pending"},
        "retrying": {"state": "pending", "attempts": {"$gte": 1}},
    }

    def __init__(self, count: Callable[[dict[str, Any]], int]) -> None:
        self.count = count

    def collect(self) -> Iterator[Metric]:
        """Yield the number of notifications per state."""
        family = GaugeMetricFamily(
            "doseledger_notification_outbox", "Alert notifications in the outbox, per state.", labels=["state"]
        )
        try:
            for state, entries in self.STATES.items():
                family.add_metric([state], self.count(entries))
        except DoseLedgerError as e:  # the database does not answer: the other metrics still go out
            log.warning("The outbox could not be counted for /metrics: %s", e)
            return
        yield family


def exposition(*collectors: Collector) -> bytes:
    """Return every metric in the Prometheus text format (added up over processes in multiprocess mode).

    ``collectors`` are read at this scrape, beside the counted metrics.
    """
    registry = CollectorRegistry()
    for collector in collectors:
        registry.register(collector)
    if os.environ.get(MULTIPROCESS_VARIABLE):
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY) + generate_latest(registry)
