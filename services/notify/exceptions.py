"""Errors notify raises on purpose."""

from __future__ import annotations


class PermanentFailure(Exception):
    """The mail or SMS gateway refused the address or the message for good: retrying will not help."""


class DeliveryInProgress(Exception):
    """Another worker is delivering this event; the message goes back to the queue."""
