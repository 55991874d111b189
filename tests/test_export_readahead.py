"""Reading a cursor ahead in a thread: order, errors and early stops."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from service.errors import DatabaseUnavailable
from service.export.readahead import read_ahead


def test_items_come_in_order() -> None:
    assert list(read_ahead(iter(range(1234)), batch=10, depth=2)) == list(range(1234))
    assert list(read_ahead(iter([]))) == []


def test_an_error_of_the_source_reaches_the_reader_after_the_items_before_it() -> None:
    def failing() -> Iterator[int]:
        yield from range(25)
        raise DatabaseUnavailable("The database cannot be reached: gone")

    seen: list[int] = []
    with pytest.raises(DatabaseUnavailable, match="gone"):
        for item in read_ahead(failing(), batch=10):
            seen.append(item)
    assert seen == list(range(25))


def test_a_reader_that_stops_early_closes_the_source() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    reader = read_ahead(endless(), batch=5, depth=2)
    assert [next(reader) for _ in range(12)] == list(range(12))
    reader.close()
    assert closed.is_set()
    assert all(thread.name != "read-ahead" for thread in threading.enumerate())
