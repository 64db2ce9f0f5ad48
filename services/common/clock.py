"""Time comes from here, so tests can move it."""

from __future__ import annotations

from datetime import UTC, datetime

from nameko.extensions import DependencyProvider


def utcnow() -> datetime:
    # Mongo stores milliseconds; truncating here keeps what we return equal to what we store.
    now = datetime.now(UTC)
    return now.replace(microsecond=(now.microsecond // 1000) * 1000)


class Clock(DependencyProvider):  # type: ignore[misc]
    """Injectable clock: `self.clock.now()` in a service; tests replace the dependency."""

    def get_dependency(self, worker_ctx: object) -> Clock:
        return self

    def now(self) -> datetime:
        return utcnow()
