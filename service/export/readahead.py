"""Read a cursor ahead in a thread, so the database prepares the next studies while rows are written.

The database server is another process: while this one formats rows, it can
fetch and encode the next batch on the other core. A bounded queue of small
batches keeps memory flat. The thread alone touches the cursor (pymongo
cursors are not shared between threads) and closes it when the reader stops
early, for example when an HTTP client goes away mid-download.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any, TypeVar

T = TypeVar("T")

#: Items per batch handed over, and batches waiting at most.
BATCH, DEPTH = 100, 4
_END = object()
_POLL = 0.1  # seconds between checks that the reader is still there


def read_ahead(items: Iterator[T], *, batch: int = BATCH, depth: int = DEPTH) -> Iterator[T]:
    """Yield ``items`` in order while a thread reads up to ``batch * depth`` of them ahead."""
    handover: queue.Queue[Any] = queue.Queue(depth)
    stop = threading.Event()
    thread = threading.Thread(target=_produce, args=(items, handover, stop, batch), name="read-ahead", daemon=True)
    thread.start()
    try:
        while (chunk := handover.get()) is not _END:
            if isinstance(chunk, BaseException):
                raise chunk
            yield from chunk
    finally:
        stop.set()
        thread.join()


def _produce(items: Iterator[Any], handover: queue.Queue[Any], stop: threading.Event, batch: int) -> None:
    """Read ``items`` in batches into ``handover`` until they end, fail, or the reader stops."""
    chunk: list[Any] = []
    last: Any = _END
    try:
        for item in items:
            chunk.append(item)
            if len(chunk) == batch:
                if not _put(handover, chunk, stop):
                    return
                chunk = []
    except Exception as e:  # handed to the reader, who raises it after the items read before it
        last = e
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()
    if _put(handover, chunk, stop):
        _put(handover, last, stop)


def _put(handover: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    """Put ``item`` when there is room; give up (False) once the reader has stopped."""
    while not stop.is_set():
        try:
            handover.put(item, timeout=_POLL)
            return True
        except queue.Full:
            continue
    return False
