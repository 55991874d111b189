"""A store whose client records every command it sends, to pin how many round trips a write costs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pymongo
from pymongo import monitoring

from service.storage import Store


class Commands(monitoring.CommandListener):
    """Record (command name, collection) of every command started."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append((event.command_name, str(event.command.get(event.command_name))))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@contextmanager
def counted_store(uri: str, db_name: str) -> Iterator[tuple[Store, Commands]]:
    """Yield a store on ``db_name`` (indexes made) and the commands it sends from then on."""
    commands = Commands()
    store = Store(pymongo.MongoClient(uri, event_listeners=[commands]), db_name)
    try:
        store.ensure_indexes()
        commands.sent.clear()
        yield store, commands
    finally:
        store.close()
