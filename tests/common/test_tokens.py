"""Access tokens: signed by identity's key, verified everywhere, refused when anything is off."""

from datetime import timedelta

import jwt
import pytest

from services.common.actors import Actor, ActorKind
from services.common.clock import utcnow
from services.common.errors import Unauthenticated
from services.common.keys import SigningKey, parse_public_keys
from services.common.settings import Settings
from services.common.tokens import issue, jwks, verify

PATIENT = Actor(kind=ActorKind.PATIENT, id="pat_1", ins="180017512345678")


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> SigningKey:
    key = SigningKey.generate("k1")
    monkeypatch.setenv("DMP_TOKEN_PUBLIC_KEYS", key.public())
    return key


def test_token_round_trip_gives_back_the_actor(key: SigningKey) -> None:
    token = issue(PATIENT, key, Settings.load(), utcnow())
    assert verify(token, Settings.load()) == PATIENT


def test_expired_token_is_refused(key: SigningKey) -> None:
    token = issue(PATIENT, key, Settings.load(), utcnow() - timedelta(hours=1))
    with pytest.raises(Unauthenticated, match="expired"):
        verify(token, Settings.load())


def test_token_signed_by_another_key_with_same_kid_is_refused(key: SigningKey) -> None:
    forger = SigningKey.generate("k1")
    token = issue(PATIENT, forger, Settings.load(), utcnow())
    with pytest.raises(Unauthenticated, match="not valid"):
        verify(token, Settings.load())


def test_token_with_unknown_kid_is_refused(key: SigningKey) -> None:
    token = issue(PATIENT, SigningKey.generate("other"), Settings.load(), utcnow())
    with pytest.raises(Unauthenticated, match="unknown key"):
        verify(token, Settings.load())


def test_unsigned_token_is_refused(key: SigningKey) -> None:
    claims = jwt.decode(
        issue(PATIENT, key, Settings.load(), utcnow()), options={"verify_signature": False}
    )
    forged = jwt.encode(claims, key=None, algorithm="none", headers={"kid": "k1"})  # type: ignore[arg-type]
    with pytest.raises(Unauthenticated):
        verify(forged, Settings.load())


def test_token_for_a_refused_actor_kind_is_refused(key: SigningKey) -> None:
    settings = Settings.load()
    now = utcnow()
    claims = {
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "sub": "ins-co",
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int(now.timestamp()) + 60,
        "jti": "x",
        "sid": "ses_x",
        "act": {"kind": "insurer", "id": "ins-co"},
    }
    token = jwt.encode(claims, key.private_key, algorithm="EdDSA", headers={"kid": "k1"})
    with pytest.raises(Unauthenticated, match="refused kind"):
        verify(token, Settings.load())


def test_token_without_a_session_is_refused(key: SigningKey) -> None:
    """Every token names its session, so that ending the session refuses it (services/common/sessions.py)."""
    claims = jwt.decode(
        issue(PATIENT, key, Settings.load(), utcnow()), options={"verify_signature": False}
    )
    del claims["sid"]
    token = jwt.encode(claims, key.private_key, algorithm="EdDSA", headers={"kid": "k1"})
    with pytest.raises(Unauthenticated):
        verify(token, Settings.load())


@pytest.mark.parametrize("token", ["", None, "not-a-jwt", 42])
def test_missing_or_malformed_token_is_refused(key: SigningKey, token: object) -> None:
    with pytest.raises(Unauthenticated):
        verify(token, Settings.load())


def test_token_from_the_future_is_refused(key: SigningKey) -> None:
    token = issue(PATIENT, key, Settings.load(), utcnow() + timedelta(minutes=5))
    with pytest.raises(Unauthenticated, match="not valid yet"):
        verify(token, Settings.load())


def test_token_with_wrong_audience_or_issuer_is_refused(
    key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = issue(PATIENT, key, Settings.load(), utcnow())
    monkeypatch.setenv("DMP_TOKEN_AUDIENCE", "another-service")
    with pytest.raises(Unauthenticated):
        verify(token, Settings.load())
    monkeypatch.setenv("DMP_TOKEN_AUDIENCE", "dmp")
    monkeypatch.setenv("DMP_TOKEN_ISSUER", "someone-else")
    with pytest.raises(Unauthenticated):
        verify(token, Settings.load())


def test_token_with_another_algorithm_is_refused(key: SigningKey) -> None:
    """HS256 signed with the public key as secret: the classic algorithm-confusion forgery."""
    claims = jwt.decode(
        issue(PATIENT, key, Settings.load(), utcnow()), options={"verify_signature": False}
    )
    forged = jwt.encode(claims, key.public().encode(), algorithm="HS256", headers={"kid": "k1"})
    with pytest.raises(Unauthenticated):
        verify(forged, Settings.load())


def test_tampered_claims_are_refused(key: SigningKey) -> None:
    header, _, signature = issue(PATIENT, key, Settings.load(), utcnow()).split(".")
    other = issue(PATIENT.model_copy(update={"id": "pat_2"}), key, Settings.load(), utcnow()).split(
        "."
    )[1]
    with pytest.raises(Unauthenticated):
        verify(f"{header}.{other}.{signature}", Settings.load())


def test_key_rotation_old_tokens_verify_until_their_key_is_withdrawn(
    key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_token = issue(PATIENT, key, Settings.load(), utcnow())
    new_key = SigningKey.generate("k2")
    # Step 1: publish the new key beside the old one; step 2: sign with the new key.
    monkeypatch.setenv("DMP_TOKEN_PUBLIC_KEYS", f"{key.public()},{new_key.public()}")
    new_token = issue(PATIENT, new_key, Settings.load(), utcnow())
    assert verify(old_token, Settings.load()) == verify(new_token, Settings.load()) == PATIENT
    # Step 3, once the old tokens have expired: withdraw the old key.
    monkeypatch.setenv("DMP_TOKEN_PUBLIC_KEYS", new_key.public())
    assert verify(new_token, Settings.load()) == PATIENT
    with pytest.raises(Unauthenticated, match="unknown key"):
        verify(old_token, Settings.load())


def test_jwks_lists_every_published_key(key: SigningKey) -> None:
    other = SigningKey.generate("k2")
    keys = jwks(parse_public_keys(f"{key.public()},{other.public()}"))["keys"]
    assert [k["kid"] for k in keys] == ["k1", "k2"]
    assert all(k["kty"] == "OKP" and k["crv"] == "Ed25519" and k["alg"] == "EdDSA" for k in keys)
    verifier = jwt.PyJWK(keys[0])
    assert (
        jwt.decode(
            issue(PATIENT, key, Settings.load(), utcnow()),
            verifier.key,
            algorithms=["EdDSA"],
            audience="dmp",
        )["sub"]
        == PATIENT.id
    )
