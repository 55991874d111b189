"""The database a benchmark runs against: a server given by URI, or a SecantusDB started for it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from service.storage.embedded import EmbeddedServer, free_port


@contextlib.contextmanager
def database(folder: Path, uri: str | None = None) -> Iterator[str]:
    """Yield ``uri``, or without one the URI of a SecantusDB started on ``folder``/db and stopped afterwards."""
    if uri:
        yield uri
        return
    server = EmbeddedServer(folder / "db", free_port())
    server.start(timeout=60)
    try:
        yield server.uri
    finally:
        server.stop()
