"""The dossier's lifecycle, as pure rules: which transitions exist and when content goes.

    open --close--> closed --reopen--> open
    open | closed --deletion request--> deletion_requested   (key destroyed at once)
    closed (10 years) | deletion_requested (3 months) --purge job--> gone

Closing archives: nothing is lost, the purge date is 10 years ahead. Deletion makes the content
unreadable at once by destroying the dossier's key; the purge job removes what is left.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum

from services.common.errors import Conflict

MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
RETENTION_AFTER_CLOSING = timedelta(days=3653)  # 10 years, leap days included
DELETION_DELAY = timedelta(days=90)  # "within 3 months"; the job runs hourly


class Status(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    DELETION_REQUESTED = "deletion_requested"


ALLOWED = {
    "close": {Status.OPEN},
    "reopen": {Status.CLOSED},
    "delete": {Status.OPEN, Status.CLOSED},
}


def check_transition(transition: str, status: str) -> None:
    if Status(status) not in ALLOWED[transition]:
        raise Conflict(f"a dossier that is {status} cannot be asked to {transition}", [{"state": status}])


def purge_after(transition: str, now: datetime) -> datetime:
    return now + (RETENTION_AFTER_CLOSING if transition == "close" else DELETION_DELAY)


def epoch_ms(moment: datetime) -> int:
    """Purge dates are queried as integers (nx-27017 stores datetimes written by $set as strings)."""
    return int(moment.timestamp() * 1000)
