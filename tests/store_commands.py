"""Listening to the store commands the services send (pymongo's command monitoring), for tests that count
or explain them."""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from pymongo import monitoring


@contextmanager
def listening(listener: monitoring.CommandListener) -> Iterator[None]:
    """Every MongoClient created inside the block (the services') reports its commands to `listener`."""
    monitoring.register(listener)
    try:
        yield
    finally:
        monitoring._LISTENERS.command_listeners.remove(listener)  # pymongo has no unregister


@dataclass
class Commands(monitoring.CommandListener):
    """The commands sent to one database, by name and collection."""

    database: str
    sent: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.database_name == self.database:
            with self.lock:
                self.sent.append((event.command_name, str(event.command.get(event.command_name))))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def during(self, action: Callable[[], object]) -> list[tuple[str, str]]:
        start = len(self.sent)
        action()
        return self.sent[start:]
