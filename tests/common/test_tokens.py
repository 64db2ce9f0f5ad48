"""Access tokens: signed by identity's key, verified everywhere, refused when anything is off."""

from datetime import timedelta

import jwt
import pytest

from services.common.actors import Actor, ActorKind
from services.common.clock import utcnow
from services.common.errors import Unauthenticated
from services.common.settings import Settings
from services.common.tokens import SigningKey, issue, verify

PATIENT = Actor(kind=ActorKind.PATIENT, id="pat_1", ins="180017512345678")


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> SigningKey:
    key = SigningKey.generate("k1")
    monkeypatch.setenv("DMP_TOKEN_PUBLIC_KEYS", key.public())
    return key


def test_token_round_trip_gives_back_the_actor(key: SigningKey) -> None:
    token = issue(PATIENT, key, Settings.from_env(), utcnow())
    assert verify(token) == PATIENT


def test_expired_token_is_refused(key: SigningKey) -> None:
    token = issue(PATIENT, key, Settings.from_env(), utcnow() - timedelta(hours=1))
    with pytest.raises(Unauthenticated, match="expired"):
        verify(token)


def test_token_signed_by_another_key_with_same_kid_is_refused(key: SigningKey) -> None:
    forger = SigningKey.generate("k1")
    token = issue(PATIENT, forger, Settings.from_env(), utcnow())
    with pytest.raises(Unauthenticated, match="not valid"):
        verify(token)


def test_token_with_unknown_kid_is_refused(key: SigningKey) -> None:
    token = issue(PATIENT, SigningKey.generate("other"), Settings.from_env(), utcnow())
    with pytest.raises(Unauthenticated, match="unknown key"):
        verify(token)


def test_unsigned_token_is_refused(key: SigningKey) -> None:
    claims = jwt.decode(issue(PATIENT, key, Settings.from_env(), utcnow()), options={"verify_signature": False})
    forged = jwt.encode(claims, key=None, algorithm="none", headers={"kid": "k1"})  # type: ignore[arg-type]
    with pytest.raises(Unauthenticated):
        verify(forged)


def test_token_for_a_refused_actor_kind_is_refused(key: SigningKey) -> None:
    settings = Settings.from_env()
    now = utcnow()
    claims = {"iss": settings.token_issuer, "aud": settings.token_audience, "sub": "ins-co",
              "iat": int(now.timestamp()), "exp": int(now.timestamp()) + 60, "jti": "x",
              "act": {"kind": "insurer", "id": "ins-co"}}
    token = jwt.encode(claims, key.private_key, algorithm="EdDSA", headers={"kid": "k1"})
    with pytest.raises(Unauthenticated, match="refused kind"):
        verify(token)


@pytest.mark.parametrize("token", ["", None, "not-a-jwt", 42])
def test_missing_or_malformed_token_is_refused(key: SigningKey, token: object) -> None:
    with pytest.raises(Unauthenticated):
        verify(token)
