"""Errors notify raises on purpose."""

from __future__ import annotations


class PermanentFailure(Exception):
    """The mail or SMS gateway refused the address or the message for good: retrying will not help."""
