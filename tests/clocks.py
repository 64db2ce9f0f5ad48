"""A clock a fast test sets: a service's `clock` dependency, at a moment the test chooses and moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.common.clock import utcnow

# A fixed morning, for tests whose answers name the time.
MORNING = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


class SettableClock:
    def __init__(self, at: datetime | None = None) -> None:
        # Near the real time by default: the tokens a service issues are checked against the real clock.
        self.at = at or utcnow()

    def now(self) -> datetime:
        return self.at

    def advance(self, by: timedelta) -> None:
        self.at += by
