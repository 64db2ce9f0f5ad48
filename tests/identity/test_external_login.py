"""Professionals log in with an ID token from a trusted OpenID Connect issuer (a real local one)."""

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from services.common.errors import AccessDenied, Unauthenticated
from services.common.settings import Settings
from services.common.tokens import verify
from tests.identities import make_rpps
from tests.oidc import Issuer

ADDRESS = "192.0.2.20"


@pytest.fixture
def issuer(
    monkeypatch: pytest.MonkeyPatch, restart_settings: Callable[[], None]
) -> Iterator[Issuer]:
    issuer = Issuer()
    monkeypatch.setenv("DMP_TRUSTED_ISSUERS", json.dumps([issuer.config]))
    restart_settings()
    yield issuer
    issuer.close()


@pytest.fixture
def rpps(cluster: Any) -> str:
    number = make_rpps()
    cluster.identity.register_professional(
        {"rpps": number, "profession": "60", "given_name": "Sam", "family_name": "Petit"}
    )
    return number


def login(cluster: Any, id_token: str) -> str:
    token: str = cluster.identity.login_with_external({"id_token": id_token}, ADDRESS)[
        "access_token"
    ]
    return token


def test_id_token_of_a_trusted_issuer_gives_our_access_token(
    cluster: Any, issuer: Issuer, rpps: str
) -> None:
    actor = verify(login(cluster, issuer.id_token(rpps)), Settings.load())
    assert actor.rpps == rpps and actor.profession == "60"


@pytest.mark.parametrize(
    "overrides, reason",
    [
        ({"aud": "someone-else"}, "not valid"),
        ({"exp": int(time.time()) - 600}, "expired"),
        ({"SubjectNameID": "not-an-rpps"}, "no RPPS"),
    ],
)
def test_bad_id_tokens_are_refused(
    cluster: Any, issuer: Issuer, rpps: str, overrides: dict[str, Any], reason: str
) -> None:
    with pytest.raises(Unauthenticated, match=reason):
        login(cluster, issuer.id_token(rpps, **overrides))


def test_id_token_from_an_untrusted_issuer_is_refused(
    cluster: Any, issuer: Issuer, rpps: str
) -> None:
    stranger = Issuer()
    try:
        with pytest.raises(Unauthenticated, match="does not trust"):
            login(cluster, stranger.id_token(rpps))
    finally:
        stranger.close()


def test_id_token_forged_with_another_key_is_refused(
    cluster: Any, issuer: Issuer, rpps: str
) -> None:
    forger = Issuer(kid=issuer.kid)
    forged = forger.id_token(rpps, iss=issuer.url)
    forger.close()
    with pytest.raises(Unauthenticated, match="not valid"):
        login(cluster, forged)


def test_unregistered_professional_is_refused(cluster: Any, issuer: Issuer) -> None:
    with pytest.raises(Unauthenticated, match="not registered"):
        login(cluster, issuer.id_token(make_rpps()))


def test_suspended_professional_is_refused(cluster: Any, issuer: Issuer, rpps: str) -> None:
    cluster.identity.set_status(f"rpps:{rpps}", "suspended")
    with pytest.raises(AccessDenied):
        login(cluster, issuer.id_token(rpps))


def test_a_web_login_accepts_only_the_id_token_carrying_its_nonce(
    cluster: Any, issuer: Issuer, rpps: str
) -> None:
    nonce = "n-0123456789abcdef"
    accepted = cluster.identity.login_with_external(
        {"id_token": issuer.id_token(rpps, nonce=nonce), "nonce": nonce}, ADDRESS
    )
    assert verify(accepted["access_token"], Settings.load()).rpps == rpps
    for other in (issuer.id_token(rpps, nonce="n-another-one-000000"), issuer.id_token(rpps)):
        with pytest.raises(Unauthenticated, match="nonce differs"):
            cluster.identity.login_with_external({"id_token": other, "nonce": nonce}, ADDRESS)
