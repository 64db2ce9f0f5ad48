"""What every in-memory store (services/<svc>/memory.py, the fast tests' stand-in for the Mongo store) has in
common with the Mongo base (services/common/store.py): the events its writes would publish, the parking of a
malformed event a handler received, and whether it answers at all."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from services.common.events import Event


class MemoryStore:
    def __init__(self) -> None:
        self.events: list[Event] = []  # what the outbox would publish, in the order of the writes
        self.parked: list[
            Any
        ] = []  # malformed events, as received (the Mongo store's parked_events)
        self.available = (
            True  # a test turns it off to see what the service does with its store down
        )

    def reachable(self) -> bool:
        return self.available

    def received_event(self, payload: Any) -> Event | None:
        """The event in a consumed message, or None after parking a malformed one (as Store.received_event)."""
        try:
            return Event.model_validate(payload)
        except ValidationError:
            self.parked.append(payload)
            return None
