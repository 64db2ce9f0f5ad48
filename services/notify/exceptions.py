"""Errors notify raises on purpose."""

from __future__ import annotations


class PermanentFailure(Exception):
    """The mail or SMS gateway refused the address or the message for good: retrying will not help."""


class LeaseLost(Exception):
    """This attempt's claim on a delivery was taken over (its lease ran out before the send): the
    attempt that took it over sends, this one must not."""
