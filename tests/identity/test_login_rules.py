"""The login rules, without a broker or a store (services/identity/login.py): when a code is sent again,
when a code may be tried and when it locks, when a card challenge or a refresh token is still good."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.identity import login
from services.identity.records import CardNonce, Channel, LoginCode, Purpose, RefreshToken

AT = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
ADDRESS = "camille@patients.dmp-test.fr"
SENT = LoginCode(
    id="otp_1",
    subject_id="pat_1",
    purpose=Purpose.LOGIN,
    channel=Channel.EMAIL,
    address=ADDRESS,
    created_at=AT,
    expires_at=AT + login.CODE_TTL,
    attempts=0,
    consumed=False,
    digest="d",
)


@pytest.mark.parametrize(
    "latest, address, now, throttled",
    [
        (SENT, ADDRESS, AT + timedelta(seconds=59), True),
        (SENT, ADDRESS, AT + login.RESEND_AFTER, False),  # a minute on: a new code
        (SENT, "autre@patients.dmp-test.fr", AT + timedelta(seconds=1), False),  # another address
        (replace(SENT, consumed=True), ADDRESS, AT + timedelta(seconds=1), False),  # used or locked
        (None, ADDRESS, AT, False),
        (
            replace(SENT, address=None),
            None,
            AT + timedelta(seconds=1),
            True,
        ),  # a decoy's, like a patient's
    ],
)
def test_a_code_is_not_sent_again_within_a_minute_to_the_same_address(
    latest: LoginCode | None, address: str | None, now: datetime, throttled: bool
) -> None:
    assert login.resend_throttled(latest, address, now) is throttled


@pytest.mark.parametrize(
    "code, now, open_",
    [
        (SENT, AT + login.CODE_TTL - timedelta(microseconds=1), True),
        (SENT, AT + login.CODE_TTL, False),  # expired
        (replace(SENT, consumed=True), AT, False),
        (None, AT, False),
    ],
)
def test_a_code_may_be_tried_until_it_is_used_locked_or_expired(
    code: LoginCode | None, now: datetime, open_: bool
) -> None:
    assert login.code_open(code, now) is open_


def test_the_fifth_wrong_code_locks_the_code() -> None:
    assert [login.locks(attempts) for attempts in range(1, 7)] == [
        False,
        False,
        False,
        False,
        True,
        True,
    ]


NONCE = CardNonce("n" * 43, "rpps:10000000009", AT + login.NONCE_TTL, consumed=False)


@pytest.mark.parametrize(
    "nonce, actor_id, now, open_",
    [
        (NONCE, "rpps:10000000009", AT, True),
        (NONCE, "rpps:10000000017", AT, False),  # issued to someone else
        (NONCE, "rpps:10000000009", AT + login.NONCE_TTL, False),  # expired
        (None, "rpps:10000000009", AT, False),
    ],
)
def test_a_card_challenge_answers_for_its_actor_until_it_expires(
    nonce: CardNonce | None, actor_id: str, now: datetime, open_: bool
) -> None:
    assert login.nonce_open(nonce, actor_id, now) is open_


REFRESH = RefreshToken(
    digest="r",
    family="ses_1",
    patient_id="pat_1",
    ins="280017512345678",
    created_at=AT,
    expires_at=AT + login.REFRESH_TTL,
    consumed=False,
)


def test_a_refresh_token_is_good_until_it_expires_and_a_used_one_is_left_to_replay_detection() -> (
    None
):
    assert login.refresh_open(REFRESH, AT + login.REFRESH_TTL - timedelta(seconds=1))
    assert not login.refresh_open(REFRESH, AT + login.REFRESH_TTL)
    assert not login.refresh_open(None, AT)
    assert login.refresh_open(
        replace(REFRESH, consumed=True), AT
    )  # consuming it again is what fails


@pytest.mark.parametrize(
    "token, ends",
    [
        (REFRESH, True),
        (replace(REFRESH, family="ses_caller"), False),  # the caller's own session ends anyway
        (
            replace(REFRESH, patient_id="pat_2"),
            False,
        ),  # someone else's session is not the caller's to end
        (None, False),
    ],
)
def test_logout_ends_the_session_of_the_callers_own_refresh_token(
    token: RefreshToken | None, ends: bool
) -> None:
    assert login.ends_with_logout(token, "pat_1", "ses_caller") is ends


def test_a_rate_limit_is_exceeded_past_its_limit() -> None:
    assert not login.CODES_PER_PATIENT.exceeded(5)
    assert login.CODES_PER_PATIENT.exceeded(6)
