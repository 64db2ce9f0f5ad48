"""Listening to the store commands the services send (pymongo's command monitoring), for tests that count
or explain them."""

from collections.abc import Iterator
from contextlib import contextmanager

from pymongo import monitoring


@contextmanager
def listening(listener: monitoring.CommandListener) -> Iterator[None]:
    """Every MongoClient created inside the block (the services') reports its commands to `listener`."""
    monitoring.register(listener)
    try:
        yield
    finally:
        monitoring._LISTENERS.command_listeners.remove(listener)  # pymongo has no unregister
