"""Internal credentials (services/common/tokens.py), without a broker: the user's access token stops at the
gateway; what each service gets is addressed to it alone, lasts a minute, and ends with the session."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from services.common.actors import Actor, ActorKind
from services.common.clock import utcnow
from services.common.devsecrets import bus_keys
from services.common.errors import Unauthenticated
from services.common.keys import SigningKey
from services.common.sessions import ENDED, EndedSession
from services.common.settings import Settings
from services.common.signatures import PUBLIC_KEYS, SIGNING_KEY, signing_variable
from services.common.tokens import (
    CREDENTIAL_SECONDS,
    credential,
    issue,
    onward,
    received_by,
    verified,
)

PATIENT = Actor(kind=ActorKind.PATIENT, id="pat_1", ins="180017512345678")
SIGNERS = ("gateway", "dossier", "partner")


@pytest.fixture
def access_token(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    key = SigningKey.generate("k1")
    keys = bus_keys(SIGNERS)
    monkeypatch.setenv("DMP_TOKEN_PUBLIC_KEYS", key.public())
    monkeypatch.setenv(PUBLIC_KEYS, keys[PUBLIC_KEYS])
    monkeypatch.setenv(SIGNING_KEY, ",".join(keys[signing_variable(name)] for name in SIGNERS))
    yield issue(PATIENT, key, Settings.load(), utcnow())


def test_a_credential_for_dossier_speaks_for_the_user_inside_dossier_only(
    access_token: str,
) -> None:
    session = verified(access_token, Settings.load())
    for_dossier = credential(session, "gateway", "dossier", Settings.load())
    with received_by("dossier"):
        taken = verified(for_dossier, Settings.load())
    assert (taken.actor, taken.session_id) == (PATIENT, session.session_id)
    with received_by("consent"), pytest.raises(Unauthenticated, match="not valid here"):
        verified(for_dossier, Settings.load())
    with pytest.raises(
        Unauthenticated, match="not an access token"
    ):  # the gateway, a page: not a worker
        verified(for_dossier, Settings.load())


def test_a_credential_lasts_a_minute_and_never_past_the_access_token(access_token: str) -> None:
    session = verified(access_token, Settings.load())
    with received_by("dossier"):
        lasting = verified(
            credential(session, "gateway", "dossier", Settings.load()), Settings.load()
        )
        assert lasting.expires_at <= utcnow() + timedelta(seconds=CREDENTIAL_SECONDS)
    with received_by("dossier"), pytest.raises(Unauthenticated, match="expired"):
        verified(
            credential(
                session, "gateway", "dossier", Settings.load(), now=utcnow() - timedelta(minutes=2)
            ),
            Settings.load(),
        )
    short = session.__class__(session.actor, session.session_id, utcnow() + timedelta(seconds=5))
    with received_by("dossier"):
        assert (
            verified(
                credential(short, "gateway", "dossier", Settings.load()), Settings.load()
            ).expires_at
            <= short.expires_at
        )


def test_only_the_gateway_and_the_services_may_speak_for_a_user(access_token: str) -> None:
    session = verified(access_token, Settings.load())
    with received_by("dossier"), pytest.raises(Unauthenticated, match="unknown key"):
        verified(
            credential(session, "partner", "dossier", Settings.load()), Settings.load()
        )  # an external service's own key


def test_a_credential_of_an_ended_session_is_refused(access_token: str) -> None:
    session = verified(access_token, Settings.load())
    for_dossier = credential(session, "gateway", "dossier", Settings.load())
    ENDED.end([EndedSession(session.session_id, utcnow() + timedelta(minutes=20))])
    with received_by("dossier"), pytest.raises(Unauthenticated, match="session was ended"):
        verified(for_dossier, Settings.load())


def test_onward_replaces_what_the_caller_may_act_on_and_nothing_else(access_token: str) -> None:
    ins, payload = "180017512345678", {"token": access_token}
    first = onward((access_token, ins, payload), "gateway", "dossier", Settings.load())
    assert first[0] != access_token and first[1:] == (ins, payload)
    with received_by("dossier"):
        assert verified(first[0], Settings.load()).actor == PATIENT
        then = onward(
            (first[0],), "dossier", "consent", Settings.load()
        )  # dossier calling on, with what it received
    with received_by("consent"):
        assert verified(then[0], Settings.load()).actor == PATIENT
    forged = access_token[:-4] + "AAAA"
    assert onward((forged,), "gateway", "dossier", Settings.load()) == (
        forged,
    )  # the callee refuses it, as before
