"""What every part of the store shares: UTC timestamps, deadlines, lost connections, unique-index refusals, ping.

Deadlines: every database operation has one (pymongo's client-side operation
timeout, ``timeoutMS``). The store's client gives each operation the short
deadline (``DOSELEDGER_DB_TIMEOUT``); :func:`deadline` sets another for the
operations of a block (a longer one for each read of an audit or an export, a
shorter one for ``/healthz``). An operation whose deadline passes raises
:class:`DatabaseUnavailable` (HTTP 503, C-STORE ``0xA700``), whatever the
server does meanwhile: frozen, gone, or busy with someone else's work.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

import pymongo
from pymongo.errors import BulkWriteError, ConnectionFailure, PyMongoError, ServerSelectionTimeoutError

from service.errors import DatabaseTimeout, DatabaseUnavailable

P = ParamSpec("P")
R = TypeVar("R")

#: MongoDB's error code of a unique-index violation
DUPLICATE_KEY = 11000

#: (collection, keys, options) of an index that a part of the store creates at start
Index = tuple[str, list[tuple[str, int]], dict[str, Any]]


def utcnow() -> datetime:
    """Return the current UTC time as BSON stores it (naive, millisecond precision)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Give the database operations of the block ``seconds`` at most, together (never more than an outer block)."""
    with pymongo.timeout(seconds):
        yield


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Turn a lost connection or a passed deadline inside the block into :class:`DatabaseUnavailable`."""
    try:
        yield
    except PyMongoError as e:
        if isinstance(e, ConnectionFailure) or e.timeout:
            raise unavailable(e) from e
        raise


def guarded(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a lost connection or a passed deadline into :class:`DatabaseUnavailable`."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with translated():
            return func(*args, **kwargs)

    return wrapper


def unavailable(error: PyMongoError) -> DatabaseUnavailable:
    """Return the error that a lost connection or a passed deadline becomes."""
    if error.timeout and not isinstance(error, ServerSelectionTimeoutError):  # found, then silent
        return DatabaseTimeout(f"The database did not answer in time; try again later ({error}).")
    return DatabaseUnavailable(f"The database cannot be reached: {error}")


def raise_unless_duplicates(error: BulkWriteError) -> None:
    """Raise ``error`` again unless every write it reports failed on a unique index only."""
    if any(write["code"] != DUPLICATE_KEY for write in error.details["writeErrors"]):
        raise error


def ping_uri(uri: str, timeout: float) -> bool:
    """Tell whether a MongoDB-protocol server at ``uri`` answers ``ping`` within ``timeout`` seconds."""
    ms = max(int(timeout * 1000), 1)
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        uri, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()
