"""The dossier's lifecycle, as pure rules: which transitions exist and when content goes.

    open --close--> closed --reopen--> open
    open | closed --deletion request--> deletion_requested   (key destroyed at once)
    closed (10 years) | deletion_requested (3 months) --purge job--> gone

Closing archives: nothing is lost, the purge date is 10 years ahead. Deletion makes the content
unreadable at once by destroying the dossier's key; the purge job removes what is left.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta

from services.common.errors import Conflict
from services.common.grants import Action
from services.dossier.records import Dossier, Status

MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
RETENTION_AFTER_CLOSING = timedelta(days=3653)  # 10 years, leap days included
DELETION_DELAY = timedelta(days=90)  # "within 3 months"; the job runs hourly

__all__ = ["Status", "check_transition", "content_refusal", "moments", "purge_after", "transition"]

ALLOWED = {
    "close": {Status.OPEN},
    "reopen": {Status.CLOSED},
    "delete": {Status.OPEN, Status.CLOSED},
}


def check_transition(transition: str, status: str) -> None:
    if Status(status) not in ALLOWED[transition]:
        raise Conflict(
            f"a dossier that is {status} cannot be asked to {transition}", [{"state": status}]
        )


def purge_after(transition: str, now: datetime) -> datetime:
    return now + (RETENTION_AFTER_CLOSING if transition == "close" else DELETION_DELAY)


def content_refusal(dossier: Dossier, action: Action) -> str | None:
    """The rule refusing `action` on this dossier for its status, if any: closed or being deleted, its
    content is inaccessible, to everyone, at once; managing it (reopening, its status) stays possible."""
    if action is not Action.MANAGE and not dossier.is_open:
        return "R-DOSSIER-CLOSED"
    return None


def transition(dossier: Dossier, name: str, now: datetime) -> Dossier:
    """The dossier after `name` (close, reopen, delete), checked against its status. Each transition's
    moments replace those of the one before."""
    check_transition(name, dossier.status)
    cleared = replace(
        dossier, closed_at=None, deletion_requested_at=None, reopened_at=None, purge_at=None
    )
    if name == "reopen":
        return replace(cleared, status=Status.OPEN, reopened_at=now)
    if name == "close":
        return replace(
            cleared, status=Status.CLOSED, closed_at=now, purge_at=purge_after(name, now)
        )
    # Deletion destroys the key: the content cannot be read any more, by anyone.
    return replace(
        cleared,
        status=Status.DELETION_REQUESTED,
        deletion_requested_at=now,
        purge_at=purge_after(name, now),
        key=None,
    )


def moments(dossier: Dossier) -> dict[str, str]:
    """When it opened and the moments of its latest transition, as the status answer tells them."""
    named = (
        ("opened_at", dossier.opened_at),
        ("closed_at", dossier.closed_at),
        ("deletion_requested_at", dossier.deletion_requested_at),
        ("reopened_at", dossier.reopened_at),
        ("purge_at", dossier.purge_at),
    )
    return {name: at.isoformat() for name, at in named if at is not None}
