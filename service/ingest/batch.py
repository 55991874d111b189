"""Ingest many objects with a few worker threads, so that client work overlaps database work.

Reading, extraction and merging are Python under the GIL, while the database
(SecantusDB, or MongoDB) works in another process; a worker waiting for a reply
releases the GIL, so with 2-4 workers one object is extracted while another is
being written. The pipeline is safe to share between threads: it keeps no state
of its own per object; the :class:`~service.storage.Store` holds one pymongo client
(thread-safe, pooled), numbers event-log entries under its lock, writes study
documents with optimistic concurrency (a lost race merges again, so parts of one
study arriving together lose no event) and keeps originals keyed by SHA-256 (the
same bytes twice at once: the second write loses on the unique key and is a
no-op). This module is the one place that does it: ``doseledger import`` and
``bench/import_rate.py`` both call :func:`ingest_all`.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from service.ingest.pipeline import Outcome, Pipeline
from service.ingest.sources import PartlyRead, Source

#: objects submitted but not yet yielded, per worker: enough to keep every worker busy,
#: few enough that memory holds at most this many objects' bytes per worker
IN_FLIGHT_PER_WORKER = 2


def ingest_source(
    pipeline: Pipeline, source: Source, *, via: str, client: str, origin: dict[str, Any] | None = None
) -> Outcome:
    """Ingest one object: refused unread over the size limit, as far as read when damaged (``origin``: a PACS run)."""
    arrival = {"name": source.name, "via": via, "client": client, "origin": origin}
    if source.size > pipeline.max_bytes:
        return pipeline.refuse_too_large(source.size, **arrival)
    try:
        data = source.read()
    except PartlyRead as e:
        return pipeline.refuse_unreadable(e.data, str(e), **arrival)
    return pipeline.ingest(data, **arrival)


def ingest_all(
    pipeline: Pipeline,
    sources: Iterable[Source],
    *,
    workers: int,
    via: str,
    client: str,
    stop: threading.Event | None = None,
) -> Iterator[Outcome]:
    """Ingest ``sources`` with ``workers`` threads and yield each outcome in the order of ``sources``.

    ``sources`` is consumed lazily and each object is read by the worker that
    ingests it, so at most ``IN_FLIGHT_PER_WORKER * workers`` objects are in
    memory. ``workers=1`` ingests one object at a time in the calling thread.
    Once ``stop`` is set no further object is started; those already started
    finish and are yielded. An exception from one object (DatabaseUnavailable)
    propagates after the objects being ingested finish; the others are not touched.
    So every object is either ingested with its outcome logged, or not touched.
    """
    stop = stop or threading.Event()
    if workers == 1:
        yield from _one_at_a_time(pipeline, sources, via=via, client=client, stop=stop)
        return
    pool = ThreadPoolExecutor(workers, thread_name_prefix="ingest")
    pending: deque[Future[Outcome]] = deque()
    try:
        for source in sources:
            if stop.is_set():
                break
            pending.append(pool.submit(ingest_source, pipeline, source, via=via, client=client))
            if len(pending) >= IN_FLIGHT_PER_WORKER * workers:
                yield pending.popleft().result()
        yield from _finish(pending, stop)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _one_at_a_time(
    pipeline: Pipeline, sources: Iterable[Source], *, via: str, client: str, stop: threading.Event
) -> Iterator[Outcome]:
    """Ingest ``sources`` in the calling thread, stopping before the next object once ``stop`` is set."""
    for source in sources:
        if stop.is_set():
            return
        yield ingest_source(pipeline, source, via=via, client=client)


def _finish(pending: deque[Future[Outcome]], stop: threading.Event) -> Iterator[Outcome]:
    """Yield the outcomes still pending, in order; once ``stop`` is set, drop those not started."""
    while pending:
        if stop.is_set():
            for future in pending:
                future.cancel()
        future = pending.popleft()
        if not future.cancelled():
            yield future.result()
