"""Ended sessions, as one verifying process keeps them (no broker: the feed is tested in tests/identity)."""

from datetime import timedelta

import pytest

from services.common import sessions
from services.common.clock import utcnow
from services.common.errors import ServiceUnavailable, Unauthenticated
from services.common.sessions import EndedSession, EndedSessions


def test_an_ended_session_is_refused_until_its_last_token_expires() -> None:
    ended = EndedSessions()
    ended.end([EndedSession("ses_a", utcnow() + timedelta(minutes=15))])
    with pytest.raises(Unauthenticated, match="ended"):
        ended.check("ses_a")
    ended.check("ses_b")  # another session is not affected


def test_an_expired_entry_is_forgotten() -> None:
    ended = EndedSessions()
    ended.end([EndedSession("ses_a", utcnow() - timedelta(seconds=1))])
    ended.check("ses_a")  # its tokens have all expired: verification refuses them on their own


def test_a_later_load_never_shortens_an_end() -> None:
    ended = EndedSessions()
    ended.end([EndedSession("ses_a", utcnow() + timedelta(minutes=15))])
    ended.end([EndedSession("ses_a", utcnow() - timedelta(minutes=1))], complete=True)
    with pytest.raises(Unauthenticated):
        ended.check("ses_a")


def test_a_followed_registry_refuses_to_decide_before_its_first_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sessions, "PRIME_WAIT_SECONDS", 0.05)
    ended, feed = EndedSessions(), object()
    ended.attach(feed)
    with pytest.raises(ServiceUnavailable):
        ended.check("ses_a")  # cannot tell an ended session from a live one yet
    ended.end([], complete=True)
    ended.check("ses_a")
    ended.detach(feed)
