"""What every part of the store shares: UTC timestamps, lost connections, unique-index refusals, ping."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

import pymongo
from pymongo.errors import BulkWriteError, ConnectionFailure, PyMongoError

from service.errors import DatabaseUnavailable

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


def guarded(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a lost connection into :class:`DatabaseUnavailable`."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ConnectionFailure as e:
            raise unavailable(e) from e

    return wrapper


def unavailable(error: ConnectionFailure) -> DatabaseUnavailable:
    """Return the error that a lost connection becomes."""
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
