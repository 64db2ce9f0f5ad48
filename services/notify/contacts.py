"""Patients' contacts, as identity answered them, kept by each notify process while it follows identity's
`contact_changed` events in a queue of its own (services/common/sessions.py IdentityFeed): one RPC hop
less for each message (issue 19), never a message to an address the patient has replaced.

- A change drops the patient's entry the moment its event arrives (the outbox relays it at once).
- While the feed is not following (starting, or its connection lost), nothing is kept or answered from
  memory: an event published meanwhile reached no queue of ours. Every entry goes when it stops.
- A look-up that was under way when any change arrived is not kept (it may have read the old contact).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from services.common.events import EventType
from services.common.sessions import FeedProvider, IdentityFeed
from services.common.settings_provider import bus_keys_of
from services.common.signatures import KeySource

Contact = dict[str, str]


class Contacts:
    """Safe to share between threads and greenthreads."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._known: OrderedDict[str, Contact] = OrderedDict()
        self._changes = (
            0  # how many changes (and interruptions) were seen: a look-up spanning one is not kept
        )
        self._following = False
        self._lock = threading.Lock()

    def of(self, patient_id: str, look_up: Callable[[], Contact]) -> Contact:
        with self._lock:
            known = self._known.get(patient_id) if self._following else None
            if known is not None:
                self._known.move_to_end(patient_id)
                return known
            changes = self._changes
        contact = look_up()
        with self._lock:
            if self._following and self._changes == changes:
                self._known[patient_id] = contact
                while len(self._known) > self.capacity:
                    self._known.popitem(last=False)
        return contact

    def changed(self, patient_id: str) -> None:
        with self._lock:
            self._changes += 1
            self._known.pop(patient_id, None)

    def following(self, following: bool) -> None:
        with self._lock:
            self._changes += 1
            self._following = following
            self._known.clear()


class ContactFeed(IdentityFeed):
    event_type = EventType.CONTACT_CHANGED
    queue_prefix = "contacts-changed."  # services/common/bus.py feed_queue_prefixes

    def __init__(self, amqp_uri: str, keys: KeySource, contacts: Contacts) -> None:
        super().__init__(amqp_uri, keys)
        self.contacts = contacts

    def connected(self) -> None:
        self.contacts.following(True)

    def disconnected(self) -> None:
        self.contacts.following(False)

    def received(self, body: dict[str, Any]) -> None:
        patient_id = body.get("patient_id")
        if isinstance(patient_id, str):
            self.contacts.changed(patient_id)
        else:  # not knowing whose contact changed, forget them all
            self.contacts.following(True)


class ContactsProvider(FeedProvider):
    """The container's `Contacts`, kept current by a `ContactFeed` for the container's life."""

    def setup(self) -> None:
        self.contacts = Contacts()

    def start(self) -> None:
        self.feed = ContactFeed(
            self.container.config["AMQP_URI"], bus_keys_of(self.container), self.contacts
        )
        self.feed.start()

    def get_dependency(self, worker_ctx: object) -> Contacts:
        return self.contacts
